"""The calendar's tables: ``calendar_feeds`` (feed tokens) and ``calendar_events`` (imported meetings).

``calendar_feeds`` keeps a SHA-256 of each feed token, never the token: whoever reads
the database cannot subscribe to anyone's calendar. ``calendar_events`` maps an
imported event (UID, RECURRENCE-ID) and an attendee's contact to the meeting activity
logged for them, so importing the same file twice logs each meeting once and a newer
SEQUENCE updates it.
"""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.db import Database

from crm_workspace.data.schema import ensure_table

migrations = sqlite_utils.Migrations("crm_workspace.calendar")


@migrations()
def m001_tables(db: Database) -> None:
    ensure_table(
        db,
        "calendar_feeds",
        {"id": int, "user": str, "token_hash": str, "created_at": str, "created_by": str, "revoked_at": str},
        (
            "CREATE UNIQUE INDEX idx_calendar_feeds_hash ON calendar_feeds(token_hash)",
            "CREATE INDEX idx_calendar_feeds_user ON calendar_feeds(user, revoked_at)",
        ),
        pk="id",
        not_null={"user", "token_hash", "created_at"},
    )
    ensure_table(
        db,
        "calendar_events",
        {
            "id": int,
            "uid": str,
            "recurrence_id": str,  # '' for a single event or a whole series' first occurrence
            "contact_id": int,
            "activity_id": int,
            "sequence": int,
            "starts_at": str,
            "ends_at": str,
            "all_day": int,
            "organizer": str,
            "source": str,
            "imported_at": str,
            "imported_by": str,
        },
        (
            "CREATE UNIQUE INDEX idx_calendar_events_key ON calendar_events(uid, recurrence_id, contact_id)",
            "CREATE INDEX idx_calendar_events_activity ON calendar_events(activity_id)",
            "CREATE INDEX idx_calendar_events_contact ON calendar_events(contact_id)",
        ),
        pk="id",
        not_null={"uid", "contact_id", "activity_id"},
        defaults={"recurrence_id": "", "sequence": 0, "all_day": 0},
    )
    # the feed reads one user's tasks by due time and meetings by start: partial indexes, so only
    # those rows pay for them on a write and the feed's window is an index walk
    db.execute("CREATE INDEX IF NOT EXISTS idx_activities_task_due ON activities(owner, due_at) WHERE kind = 'task'")
    db.execute(
        "CREATE INDEX IF NOT EXISTS idx_activities_meeting_at ON activities(owner, occurred_at) WHERE kind = 'meeting'"
    )
