"""The lifecycle tracker's tables: ``lifecycle_events`` (append-only) and ``lifecycle_stays``.

``lifecycle_events`` keeps the name and columns it had when the core created it
(notebooks and scripts rely on them); ``m000_events_table`` creates it in new
workspaces and accepts the one an older core made.
"""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.db import Database

from crm_workspace.data.schema import append_only, ensure_table

migrations = sqlite_utils.Migrations("crm_workspace.lifecycle")

# Both triggers' start: the contact's previous stay ends where the new event begins; then the
# new event's stay is inserted, ending at the contact's next event if one is already there.
_CLOSE_PREVIOUS = """\
CREATE TRIGGER lifecycle_stays_on_event AFTER INSERT ON lifecycle_events BEGIN
    UPDATE lifecycle_stays SET next_at = NEW.at, days = julianday(NEW.at) - julianday(at)
    WHERE event_id = (
        SELECT event_id FROM lifecycle_stays WHERE contact_id = NEW.contact_id
        AND (at < NEW.at OR (at = NEW.at AND event_id < NEW.id))
        ORDER BY at DESC, event_id DESC LIMIT 1);
    INSERT INTO lifecycle_stays (event_id, contact_id, stage, at, next_at, days)"""

# The trigger m002 made; m003 replaces it with STAYS_TRIGGER (same rows, cheaper per event).
STAYS_TRIGGER_M002 = f"""
{_CLOSE_PREVIOUS}
    SELECT NEW.id, NEW.contact_id, NEW.to_stage, NEW.at, n.at, julianday(n.at) - julianday(NEW.at)
    FROM (SELECT (SELECT at FROM lifecycle_stays WHERE contact_id = NEW.contact_id
                  AND (at > NEW.at OR (at = NEW.at AND event_id > NEW.id))
                  ORDER BY at, event_id LIMIT 1) AS at) AS n;
END
"""

_NEXT_AT = """(SELECT at FROM lifecycle_stays WHERE contact_id = NEW.contact_id
        AND (at > NEW.at OR (at = NEW.at AND event_id > NEW.id))
        ORDER BY at, event_id LIMIT 1)"""

STAYS_TRIGGER = f"""
{_CLOSE_PREVIOUS}
    VALUES (NEW.id, NEW.contact_id, NEW.to_stage, NEW.at, {_NEXT_AT},
        julianday({_NEXT_AT}) - julianday(NEW.at));
END
"""


@migrations()
def m000_events_table(db: Database) -> None:
    """Every move of a contact between lifecycle stages: who, when, from and to. Never rewritten."""
    ensure_table(
        db,
        "lifecycle_events",
        {"id": int, "contact_id": int, "from_stage": str, "to_stage": str, "at": str, "by": str},
        (
            "CREATE INDEX idx_lifecycle_contact ON lifecycle_events(contact_id, at)",
            "CREATE INDEX idx_lifecycle_at ON lifecycle_events(at)",
        ),
        pk="id",
        not_null={"contact_id", "to_stage", "at"},
    )
    append_only(db, "lifecycle_events")


@migrations()
def m001_flags_and_indexes(db):
    """``flagged`` marks events accepted out of order; covering indexes for the funnel, cohorts and time in stage."""
    db["lifecycle_events"].add_column("flagged", str)
    for sql in (
        "CREATE INDEX IF NOT EXISTS idx_lifecycle_contact_stage ON lifecycle_events(contact_id, at, to_stage)",
        "CREATE INDEX IF NOT EXISTS idx_lifecycle_at_stage ON lifecycle_events(at, contact_id, to_stage, from_stage)",
        "CREATE INDEX IF NOT EXISTS idx_contacts_created ON contacts(created_at)",
        "CREATE INDEX IF NOT EXISTS idx_organizations_created ON organizations(created_at)",
    ):
        db.execute(sql)
    if db["deals"].exists():  # the pipeline's table; the pipeline makes this index where it creates deals
        db.execute("CREATE INDEX IF NOT EXISTS idx_deals_created ON deals(created_at)")


@migrations()
def m002_stays(db):
    """``lifecycle_stays``: one row per event with the time until the contact's next event.

    Filled once with ``LEAD(at) OVER (PARTITION BY contact_id ORDER BY at, id)`` and kept
    current by a trigger on every insert into ``lifecycle_events`` (any path, even raw
    SQL), so time in stage is an index walk instead of a window over every event.
    """
    db.execute(
        "CREATE TABLE lifecycle_stays (event_id INTEGER PRIMARY KEY, contact_id INTEGER NOT NULL,"
        " stage TEXT NOT NULL, at TEXT NOT NULL, next_at TEXT, days REAL)"
    )
    db.execute(
        "INSERT INTO lifecycle_stays (event_id, contact_id, stage, at, next_at, days)"
        " SELECT id, contact_id, to_stage, at, next_at, julianday(next_at) - julianday(at) FROM ("
        " SELECT id, contact_id, to_stage, at,"
        " LEAD(at) OVER (PARTITION BY contact_id ORDER BY at, id) AS next_at FROM lifecycle_events)"
    )
    db.execute("CREATE INDEX idx_stays_stage_days ON lifecycle_stays(stage, days, at, contact_id)")
    db.execute("CREATE INDEX idx_stays_contact ON lifecycle_stays(contact_id, at, event_id)")
    db.execute(STAYS_TRIGGER_M002)


@migrations()
def m003_stays_trigger_without_derived_table(db):
    """Recreate ``lifecycle_stays_on_event`` with scalar subqueries instead of a one-row derived table.

    Same rows (``tests/test_lifecycle_stays_trigger.py`` replays events through both), about a
    quarter less CPU per event: the derived table was half the trigger's cost on a 100k import.
    ``lifecycle_events`` is append-only, so inserts are the only events the trigger follows.
    """
    db.execute("DROP TRIGGER IF EXISTS lifecycle_stays_on_event")
    db.execute(STAYS_TRIGGER)
