"""The marketing tables, one named migration set (``crm_workspace.marketing``).

- ``segments``: a saved segment (``kind`` dynamic: a filter over contacts; static: a list),
  its filter as JSON, and whether it is broken (filters on a field that no longer exists).
- ``segment_members``: who is in each segment, now. A derived index kept by the plugin:
  a dynamic segment's rows are re-evaluated for the contacts a write changed
  (``crm_record_changed``), a static list's rows are added and removed by people.
"""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.db import Database

from crm_workspace.data.schema import ensure_table, unique_message

migrations = sqlite_utils.Migrations("crm_workspace.marketing")

_STAMPS = {"created_at": str, "updated_at": str, "updated_by": str, "version": int}

unique_message("segments.name", "another segment already has this name")


@migrations()
def m001_segments(db: Database) -> None:
    """Segments and their members; an index for "active since" conditions on activities."""
    ensure_table(
        db,
        "segments",
        {
            "id": int,
            "name": str,
            "kind": str,
            "filter": str,
            "description": str,
            "status": str,
            "problem": str,
            "built_at": str,
            "owner": str,
            **_STAMPS,
        },
        ("CREATE UNIQUE INDEX idx_segments_name ON segments(name COLLATE NOCASE)",),
        pk="id",
        not_null={"name", "kind"},
        defaults={"version": 1, "kind": "dynamic", "status": "ok"},
    )
    db.execute(
        "CREATE TABLE IF NOT EXISTS segment_members ("
        " segment_id INTEGER NOT NULL,"
        " contact_id INTEGER NOT NULL, added_at TEXT,"
        " PRIMARY KEY (segment_id, contact_id))"  # a rowid table: privacy erasure removes rows by rowid
    )
    db.execute("CREATE INDEX IF NOT EXISTS idx_segment_members_contact ON segment_members(contact_id, segment_id)")
    # "active in the last N days" as a range scan instead of a lookup per contact
    db.execute("CREATE INDEX IF NOT EXISTS idx_activities_occurred ON activities(occurred_at, contact_id)")


@migrations()
def m002_segment_indexes(db: Database) -> None:
    """Covering indexes for the conditions segments combine most (stage, consent, organization, type, owner).

    A three-condition count at 1M contacts reads one index instead of a row per contact
    (benchmarks/bench_segments.py: ~1.5 s → ~30 ms); every send's audience starts from consent.
    """
    db.execute(
        "CREATE INDEX IF NOT EXISTS idx_contacts_segment_stage"
        " ON contacts(lifecycle_stage, marketing_consent, organization_id, stakeholder_type, owner)"
    )
    db.execute(
        "CREATE INDEX IF NOT EXISTS idx_contacts_segment_consent"
        " ON contacts(marketing_consent, stakeholder_type, owner, organization_id, lifecycle_stage)"
    )
