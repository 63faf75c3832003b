"""Feed tokens and the iCalendar feed of one user's tasks and meetings.

Why a random token in a table rather than a signed one (``services.signing``): a
calendar URL is a long-lived secret that people paste into other apps, and it must
be revocable one user at a time. A signed token could only be revoked by keeping a
list of revoked tokens anyway (or by rotating the workspace's secret, which kills
every unsubscribe link too). So each feed has a row in ``calendar_feeds`` holding a
SHA-256 of a 32-byte random token (enough entropy that a plain hash is safe; the
lookup is by an indexed hash, no timing leak about the token itself). A user has at
most one live feed: making a new one revokes the old.

Why tasks are VEVENTs: Google Calendar and Outlook ignore VTODO in a subscribed feed
(Apple Calendar shows VTODO only in Reminders, and only for CalDAV, not for a
subscribed .ics), so a task is a short transparent (not busy) VEVENT at its due
time, or an all-day VEVENT when it is due at midnight (a date without a time).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from crm_workspace.data.shared import UntilChanged
from crm_workspace.data.store import utcnow
from crm_workspace.errors import NotFound, PermissionDenied
from crm_workspace.services.signing import public_url

if TYPE_CHECKING:
    from crm_workspace import Workspace

#: The feed's window: what a calendar app needs, not every task since the company began.
DAYS_BACK = 90
DAYS_AHEAD = 365
#: At most this many events in one feed (the ones closest to now).
MAX_EVENTS = 2000
MEETING_MINUTES = 60
TASK_MINUTES = 15


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def role_of(workspace: Workspace) -> str:
    """``admin``, ``member`` or ``viewer`` (the system actor and a fresh workspace count as admin)."""
    if workspace.system or not workspace.store.scalar("SELECT count(*) FROM users"):
        return "admin"
    role = workspace.store.scalar("SELECT role FROM users WHERE username = ? AND active = 1", [workspace.user])
    return role or "none"


def _check_may_manage(workspace: Workspace, user: str) -> None:
    role = role_of(workspace)
    if role == "admin":
        return
    if role == "member" and user == workspace.user:
        return
    if user != workspace.user:
        raise PermissionDenied(f"only an admin may manage another user's calendar feed ({user})")
    raise PermissionDenied(f"{workspace.user} may not make a calendar feed (read-only)")


def _check_user(workspace: Workspace, user: str) -> None:
    if workspace.store.scalar("SELECT count(*) FROM users") and not workspace.store.scalar(
        "SELECT 1 FROM users WHERE username = ?", [user]
    ):
        raise NotFound(f"no user {user!r}")


def make_feed(workspace: Workspace, user: str) -> str:
    """A new feed token for ``user`` (shown once, stored hashed); the user's older feeds are revoked."""
    _check_user(workspace, user)
    _check_may_manage(workspace, user)
    token = secrets.token_urlsafe(32)
    with workspace.store.transaction():
        _revoke(workspace, user)
        workspace.store.insert(
            "calendar_feeds",
            {"user": user, "token_hash": token_hash(token), "created_at": utcnow(), "created_by": workspace.user},
        )
    return token


def _revoke(workspace: Workspace, user: str) -> int:
    live = workspace.store.query(
        "SELECT id FROM calendar_feeds WHERE user = ? AND revoked_at IS NULL ORDER BY id", [user]
    )
    now = utcnow()
    workspace.store.update_many("calendar_feeds", [(row["id"], {"revoked_at": now}, None) for row in live])
    return len(live)


def revoke_feeds(workspace: Workspace, user: str) -> int:
    """Revoke every live feed of ``user``; how many there were."""
    _check_user(workspace, user)
    _check_may_manage(workspace, user)
    with workspace.store.transaction():
        return _revoke(workspace, user)


def feeds(workspace: Workspace, user: str | None = None) -> list[dict]:
    """Feed rows (never tokens): a member sees their own, an admin everyone's."""
    if role_of(workspace) != "admin":
        user = workspace.user
    where, params = ("WHERE user = ?", [user]) if user else ("", [])
    return workspace.store.query(
        f"SELECT id, user, created_at, created_by, revoked_at FROM calendar_feeds {where} ORDER BY id DESC LIMIT 200",
        params,
    )


def feed_user(workspace: Workspace, token: str) -> str | None:
    """The user a live token belongs to (an active user), or None."""
    if not token or len(token) > 200:
        return None
    row = workspace.store.query(
        "SELECT f.user FROM calendar_feeds f WHERE f.token_hash = ? AND f.revoked_at IS NULL", [token_hash(token)]
    )
    if not row:
        return None
    user = row[0]["user"]
    if workspace.store.scalar("SELECT count(*) FROM users") and not workspace.store.scalar(
        "SELECT 1 FROM users WHERE username = ? AND active = 1", [user]
    ):
        return None  # a disabled or removed user's calendar is no longer served
    return user


def feed_url(workspace: Workspace, token: str) -> str:
    return public_url(workspace, f"/ical/{token}.ics")


# ---------------------------------------------------------------- the feed
_WINDOW_SQL = "SELECT id, {time} AS at FROM activities WHERE owner = :user AND kind = '{kind}' AND {time} >= :start AND {time} <= :end"
#: The ids first (index walks, the closest ``limit`` to now), then the details of those rows only.
FEED_SQL = f"""
SELECT a.id, a.kind, a.subject, a.body, a.occurred_at, a.due_at, a.done, a.version, a.created_at,
       a.updated_at, a.contact_id, trim(coalesce(c.first_name, '') || ' ' || coalesce(c.last_name, '')) AS contact,
       c.email, o.name AS organization, w.at,
       (SELECT max(e.ends_at) FROM calendar_events e WHERE e.activity_id = a.id) AS ends_at,
       (SELECT max(e.all_day) FROM calendar_events e WHERE e.activity_id = a.id) AS all_day
FROM (SELECT id, at FROM ({_WINDOW_SQL.format(kind="task", time="due_at")}
                          UNION ALL {_WINDOW_SQL.format(kind="meeting", time="occurred_at")})
      ORDER BY abs(julianday(at) - julianday(:now)), id LIMIT :limit) w
JOIN activities a ON a.id = w.id
LEFT JOIN contacts c ON c.id = a.contact_id
LEFT JOIN organizations o ON o.id = a.organization_id
"""


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str | None) -> datetime | None:
    """Stored ISO text as an aware UTC datetime (no zone read as UTC), or None."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def feed_rows(workspace: Workspace, user: str, now: datetime | None = None) -> list[dict]:
    """The user's tasks (by due time) and meetings within the window, the closest to now first."""
    now = now or datetime.now(UTC)
    params = {
        "user": user,
        "start": _stamp(now - timedelta(days=DAYS_BACK)),
        "end": _stamp(now + timedelta(days=DAYS_AHEAD)),
        "now": _stamp(now),
        "limit": MAX_EVENTS,
    }
    return workspace.store.query(FEED_SQL, params)


def host_of(workspace: Workspace) -> str:
    return urlsplit(public_url(workspace)).hostname or "localhost"


def build_feed(workspace: Workspace, user: str, now: datetime | None = None) -> tuple[bytes, datetime | None]:
    """The iCalendar text of ``user``'s feed and the last time any of its events changed."""
    from icalendar import Calendar, Event

    rows = feed_rows(workspace, user, now)
    host = host_of(workspace)
    name = workspace.store.scalar("SELECT display_name FROM users WHERE username = ?", [user]) or user
    cal = Calendar()
    cal.add("prodid", "-//crm-workspace//calendar feed//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", f"CRM: {name}")
    cal.add("x-published-ttl", "PT1H")
    latest: datetime | None = None
    for row in sorted(rows, key=lambda r: (r["at"] or "", r["id"])):
        start = parse_time(row["at"])
        if start is None:
            continue
        changed = parse_time(row["updated_at"]) or parse_time(row["created_at"]) or start
        latest = changed if latest is None or changed > latest else latest
        cal.add_component(_event(Event, workspace, row, start, changed, host))
    return cal.to_ical(), latest


#: Feeds per (workspace file, user), until a commit or the hour turns (crm_workspace/data/shared.py).
FEEDS = UntilChanged(size=32)


def cached_feed(workspace: Workspace, user: str, now: datetime | None = None) -> tuple[bytes, str, datetime | None]:
    """``build_feed`` with its ETag, built again only after a commit (any, anywhere) or on the hour.

    Calendar apps poll every few minutes; most polls find nothing changed, and this answers
    them (a 304 or the same bytes) without a query or the iCalendar serialisation.
    """
    now = now or datetime.now(UTC)

    def build() -> tuple[bytes, str, datetime | None]:
        body, changed = build_feed(workspace, user, now)
        return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"', changed

    return FEEDS.get(workspace.store, (str(workspace.path), user), build, stamp=now.strftime("%Y%m%d%H"))


def _event(event_class: Any, workspace: Workspace, row: dict, start: datetime, changed: datetime, host: str) -> Any:
    event = event_class()
    event.add("uid", f"activity-{row['id']}@{host}")
    event.add("dtstamp", changed)
    event.add("last-modified", changed)
    event.add("sequence", max(0, int(row["version"] or 1) - 1))
    subject = (row["subject"] or row["kind"].capitalize()).strip()
    contact = (row["contact"] or "").strip()
    is_task = row["kind"] == "task"
    summary = ("✓ " if is_task and row["done"] else "") + ("Task: " if is_task else "") + subject
    if contact:
        summary += f" ({contact})"
    event.add("summary", summary)
    all_day = bool(row["all_day"]) or (is_task and start.time() == datetime.min.time())
    if all_day:
        day: date = start.date()
        event.add("dtstart", day)
        end = parse_time(row["ends_at"])
        event.add("dtend", end.date() if end and end.date() > day else day + timedelta(days=1))
    else:
        event.add("dtstart", start)
        end = parse_time(row["ends_at"])
        minutes = TASK_MINUTES if is_task else MEETING_MINUTES
        event.add("dtend", end if end and end > start else start + timedelta(minutes=minutes))
    if is_task:
        event.add("transp", "TRANSPARENT")  # a task does not make its owner busy
    lines = [row["body"].strip()] if (row["body"] or "").strip() else []
    if contact:
        lines.append(f"Contact: {contact}" + (f" <{row['email']}>" if row["email"] else ""))
    if row["organization"]:
        lines.append(f"Organization: {row['organization']}")
    if is_task:
        lines.append("Status: done" if row["done"] else "Status: open")
    if row["contact_id"]:
        link = public_url(workspace, f"/?page=contacts&id={row['contact_id']}")
        lines.append(link)
        event.add("url", link)
    if lines:
        event.add("description", "\n".join(lines))
    event.add("categories", [row["kind"]])
    return event
