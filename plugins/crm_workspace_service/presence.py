"""Who else is on a ticket (collision detection), seen by every ``crm serve`` process.

Every open ticket page says "viewing" every few seconds, and "replying" while its composer
holds text; entries older than ``TTL`` seconds are ignored (a closed tab, a dead session).
``crm serve --num-procs 2`` runs sessions in separate processes, so the registry is a small
table ``ticket_presence`` (ticket_id, user, session, state viewing|replying, seen_at in Unix
seconds) in a side database beside the workspace (``<db>.presence``), not in the workspace:

- a heartbeat is not a record: no history worth keeping, nothing to erase or back up; the
  Store would audit one row per page every 3 s (the append-only audit log would grow by
  ~10,000 rows per agent and day) and fire ``crm_record_changed`` for nothing;
- any commit to the workspace changes its ``data_version``, which makes every open page of
  every session refresh (``Workspace.poll``) and drops the settings and permission caches:
  heartbeats there would redraw every page every few seconds. A side file changes nothing in
  the workspace, and never waits on (or delays) a real write's lock.

The file is only a cache of the last seconds: a failure to read or write it (a read-only
directory, a busy lock past one second) falls back to this process's memory, and the page
still works. A reply on a stale thread is caught independently by the ticket's ``version``.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

TTL = 15.0
_lock = threading.Lock()
_seen: dict[int, dict[tuple[str, str], tuple[str, float]]] = {}  # the fallback: this process only
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS ticket_presence (ticket_id INTEGER NOT NULL, user TEXT NOT NULL,"
    " session TEXT NOT NULL, state TEXT NOT NULL CHECK (state IN ('viewing', 'replying')),"
    " seen_at REAL NOT NULL, PRIMARY KEY (ticket_id, user, session)) WITHOUT ROWID"
)


def side_file(workspace: Any) -> Path | None:
    """``<db>.presence`` beside the workspace's database (``workspace`` may be the database path); None in memory."""
    path = str(getattr(workspace, "path", workspace) or "")
    if not path or path == ":memory:" or path.startswith("file::memory:"):
        return None
    db = Path(path)
    return db.with_name(db.name + ".presence")


@contextlib.contextmanager
def _connect(workspace: Any):
    path = side_file(workspace)
    if path is None:
        raise sqlite3.OperationalError("no side file for an in-memory workspace")
    conn = sqlite3.connect(path, timeout=1.0, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = OFF")  # seconds-old heartbeats: nothing to keep after a crash
        conn.execute(_SCHEMA)
        yield conn
    finally:
        conn.close()


def touch(workspace: Any, ticket_id: int, user: str, session: str, action: str = "viewing") -> None:
    """Say ``user``'s ``session`` is on the ticket (``viewing`` or ``replying``) now."""
    if action not in ("viewing", "replying"):
        raise ValueError("presence is viewing or replying")
    now = time.time()
    with _lock:
        _seen.setdefault(int(ticket_id), {})[(user, session)] = (action, now)
    with contextlib.suppress(sqlite3.Error, OSError), _connect(workspace) as conn:
        conn.execute(
            "INSERT INTO ticket_presence (ticket_id, user, session, state, seen_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (ticket_id, user, session) DO UPDATE SET state = excluded.state, seen_at = excluded.seen_at",
            [int(ticket_id), user, session, action, now],
        )
        conn.execute("DELETE FROM ticket_presence WHERE seen_at < ?", [now - 4 * max(TTL, 1.0)])


def leave(workspace: Any, ticket_id: int, user: str, session: str) -> None:
    with _lock:
        _seen.get(int(ticket_id), {}).pop((user, session), None)
    with contextlib.suppress(sqlite3.Error, OSError), _connect(workspace) as conn:
        conn.execute(
            "DELETE FROM ticket_presence WHERE ticket_id = ? AND user = ? AND session = ?",
            [int(ticket_id), user, session],
        )


def others(workspace: Any, ticket_id: int, user: str, session: str) -> dict[str, str]:
    """The other people on this ticket now, in any process: user -> "replying" or "viewing" (replying wins)."""
    now = time.time()
    with _lock:
        entries = _seen.get(int(ticket_id), {})
        for key in [k for k, (_, at) in entries.items() if now - at > TTL]:
            del entries[key]
        seen = {key: action for key, (action, _) in entries.items()}
    with contextlib.suppress(sqlite3.Error, OSError), _connect(workspace) as conn:
        rows = conn.execute(
            "SELECT user, session, state FROM ticket_presence WHERE ticket_id = ? AND seen_at >= ?",
            [int(ticket_id), now - TTL],
        ).fetchall()
        seen.update({(who, sess): state for who, sess, state in rows})
    out: dict[str, str] = {}
    for (who, sess), action in seen.items():
        if (who, sess) == (user, session):
            continue
        if who == user:
            who = f"{who} (another window)"
        if out.get(who) != "replying":
            out[who] = action
    return out
