"""The relationships table and its vocabulary.

``relationships`` keeps the name and columns it had when the core created it
(notebooks and scripts rely on them); ``m001_relationships_table`` creates it in
new workspaces and accepts the one an older core made.
"""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.db import Database

from crm_workspace.data.schema import ensure_table

RELATIONSHIP_KINDS = (
    "reports_to",
    "works_with",
    "influences",
    "introduced",
    "partner_of",
    "supplier_of",
    "investor_in",
    "advisor_to",
    "media_contact",
    "member_of",
)

migrations = sqlite_utils.Migrations("crm_workspace.relationships")


@migrations()
def m001_relationships_table(db: Database) -> None:
    """Links between contacts and organizations, each with a kind and a strength from 1 to 5."""
    ensure_table(
        db,
        "relationships",
        {
            "id": int,
            "source_type": str,
            "source_id": int,
            "target_type": str,
            "target_id": int,
            "kind": str,
            "strength": int,
            "notes": str,
            "created_at": str,
            "updated_at": str,
            "updated_by": str,
            "version": int,
        },
        (
            "CREATE INDEX idx_relationships_source ON relationships(source_type, source_id)",
            "CREATE INDEX idx_relationships_target ON relationships(target_type, target_id)",
        ),
        pk="id",
        not_null={"source_type", "source_id", "target_type", "target_id", "kind"},
        defaults={"version": 1, "strength": 3},
    )
