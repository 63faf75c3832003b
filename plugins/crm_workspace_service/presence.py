"""Who else is on a ticket: an in-process registry the served sessions update (collision detection).

Every open ticket page says "viewing" every few seconds, and "replying" while its composer
holds text; entries older than ``TTL`` seconds are gone (a closed tab, a dead session).
One ``crm serve`` process holds every session, so the registry lives in its memory; a
reply on a stale thread is caught independently by the ticket's ``version``.
"""

from __future__ import annotations

import threading
import time

TTL = 15.0
_lock = threading.Lock()
_seen: dict[int, dict[tuple[str, str], tuple[str, float]]] = {}


def touch(ticket_id: int, user: str, session: str, action: str = "viewing") -> None:
    with _lock:
        _seen.setdefault(int(ticket_id), {})[(user, session)] = (action, time.monotonic())


def leave(ticket_id: int, user: str, session: str) -> None:
    with _lock:
        _seen.get(int(ticket_id), {}).pop((user, session), None)


def others(ticket_id: int, user: str, session: str) -> dict[str, str]:
    """The other people on this ticket now: user -> "replying" or "viewing" (replying wins)."""
    now = time.monotonic()
    out: dict[str, str] = {}
    with _lock:
        entries = _seen.get(int(ticket_id), {})
        for key in [k for k, (_, at) in entries.items() if now - at > TTL]:
            del entries[key]
        for (who, sess), (action, _) in entries.items():
            if (who, sess) == (user, session) or (who == user and sess == session):
                continue
            if who == user:
                who = f"{who} (another window)"
            if out.get(who) != "replying":
                out[who] = action
    return out
