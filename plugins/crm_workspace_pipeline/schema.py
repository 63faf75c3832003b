"""The pipeline's tables and vocabulary: deals, their stages, statuses and lost reasons.

``deals`` keeps the name and columns it had when the core created it (notebooks
and scripts rely on them); ``m000_deals_table`` creates it in new workspaces and
accepts the one an older core made.
"""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.db import Database

from crm_workspace.data.schema import ensure_table

#: Default sales pipeline: (stage, default probability %, status it implies).
DEAL_STAGES = (
    ("qualification", 10, "open"),
    ("needs_analysis", 25, "open"),
    ("proposal", 50, "open"),
    ("negotiation", 75, "open"),
    ("won", 100, "won"),
    ("lost", 0, "lost"),
)
DEAL_STATUSES = ("open", "won", "lost")
LOST_REASONS = ("price", "competitor", "no budget", "no decision", "timing", "product fit")

#: Default days without a stage change or activity after which an open deal rots.
DEFAULT_ROT_DAYS = {"qualification": 14, "needs_analysis": 14, "proposal": 21, "negotiation": 21}

migrations = sqlite_utils.Migrations("crm_workspace.pipeline")

_FOREIGN_KEY_FAILED = "RAISE(ABORT, 'FOREIGN KEY constraint failed')"


@migrations()
def m000_deals_table(db: Database) -> None:
    """``deals`` as the core's m001 made it, and ``activities.deal_id`` checked against it.

    The core cannot declare a foreign key to a module's table, so where the
    activities table has none (new workspaces), triggers refuse what the key did:
    an activity pointing at a missing deal, and deleting a deal activities use.
    """
    ensure_table(
        db,
        "deals",
        {
            "id": int,
            "title": str,
            "organization_id": int,
            "contact_id": int,
            "stage": str,
            "amount": float,
            "currency": str,
            "probability": float,
            "expected_close": str,
            "status": str,
            "lost_reason": str,
            "closed_at": str,
            "source": str,
            "owner": str,
            "created_at": str,
            "updated_at": str,
            "updated_by": str,
            "version": int,
        },
        (
            "CREATE INDEX idx_deals_stage ON deals(status, stage)",
            "CREATE INDEX idx_deals_org ON deals(organization_id)",
            "CREATE INDEX idx_deals_contact ON deals(contact_id)",
            "CREATE INDEX idx_deals_owner ON deals(owner)",
            "CREATE INDEX idx_deals_created ON deals(created_at)",
        ),
        pk="id",
        foreign_keys=[("organization_id", "organizations", "id"), ("contact_id", "contacts", "id")],
        not_null={"title"},
        defaults={"version": 1, "status": "open", "currency": "EUR"},
    )
    if any(fk.other_table == "deals" for fk in db["activities"].foreign_keys):
        return
    missing = "NEW.deal_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM deals WHERE id = NEW.deal_id)"
    db.execute(
        "CREATE TRIGGER IF NOT EXISTS activities_deal_insert BEFORE INSERT ON activities"
        f" WHEN {missing} BEGIN SELECT {_FOREIGN_KEY_FAILED}; END"
    )
    db.execute(
        "CREATE TRIGGER IF NOT EXISTS activities_deal_update BEFORE UPDATE OF deal_id ON activities"
        f" WHEN {missing} BEGIN SELECT {_FOREIGN_KEY_FAILED}; END"
    )
    db.execute(
        "CREATE TRIGGER IF NOT EXISTS deals_activities_delete BEFORE DELETE ON deals"
        " WHEN EXISTS (SELECT 1 FROM activities WHERE deal_id = OLD.id)"
        f" BEGIN SELECT {_FOREIGN_KEY_FAILED}; END"
    )


@migrations()
def m001_pipeline_stages(db):
    db["pipeline_stages"].insert_all(
        [
            {"pipeline": "default", "stage": stage, "position": i, "probability": probability, "status": status}
            for i, (stage, probability, status) in enumerate(DEAL_STAGES)
        ],
        pk=("pipeline", "stage"),
    )


@migrations()
def m002_configurable_stages(db):
    """Stages get an id (so the Store can write them), a label and a rot limit; deals get a pipeline."""
    db.execute("ALTER TABLE pipeline_stages RENAME TO _pipeline_stages_v1")
    db["pipeline_stages"].create(
        {
            "id": int,
            "pipeline": str,
            "stage": str,
            "label": str,
            "position": int,
            "probability": float,
            "status": str,
            "rot_days": int,
        },
        pk="id",
        not_null={"pipeline", "stage", "status"},
        defaults={"status": "open", "position": 0, "probability": 0},
    )
    old = db.execute("SELECT pipeline, stage, position, probability, status FROM _pipeline_stages_v1").fetchall()
    db["pipeline_stages"].insert_all(
        {
            "pipeline": pipeline,
            "stage": stage,
            "label": stage.replace("_", " ").capitalize(),
            "position": position,
            "probability": probability,
            "status": status,
            "rot_days": DEFAULT_ROT_DAYS.get(stage, 21 if status == "open" else None),
        }
        for pipeline, stage, position, probability, status in old
    )
    db.execute("DROP TABLE _pipeline_stages_v1")
    db.execute("CREATE UNIQUE INDEX idx_pipeline_stages_key ON pipeline_stages(pipeline, stage)")

    deals = db["deals"]
    deals.add_column("pipeline", str, not_null_default="default")
    deals.add_column("stage_changed_at", str)
    deals.add_column("probability_manual", int, not_null_default=0)
    db.execute("UPDATE deals SET stage_changed_at = coalesce(closed_at, created_at) WHERE stage_changed_at IS NULL")
    db.execute("CREATE INDEX idx_deals_board ON deals(pipeline, stage, expected_close, id)")

    # Column header totals of the unfiltered board, kept exact by triggers on every
    # write (Store writes and bulk loads alike): the board at 200k deals reads six rows.
    db["pipeline_totals"].create(
        {"pipeline": str, "stage": str, "deals": int, "amount": float, "weighted": float},
        pk=("pipeline", "stage"),
        defaults={"deals": 0, "amount": 0, "weighted": 0},
    )
    db.execute(
        "INSERT INTO pipeline_totals (pipeline, stage, deals, amount, weighted)"
        " SELECT pipeline, coalesce(stage, ''), count(*), total(amount), total(amount * probability / 100.0)"
        " FROM deals GROUP BY pipeline, coalesce(stage, '')"
    )
    add = (
        "INSERT OR IGNORE INTO pipeline_totals (pipeline, stage) VALUES (NEW.pipeline, coalesce(NEW.stage, ''));"
        " UPDATE pipeline_totals SET deals = deals + 1, amount = amount + coalesce(NEW.amount, 0),"
        " weighted = weighted + coalesce(NEW.amount, 0) * coalesce(NEW.probability, 0) / 100.0"
        " WHERE pipeline = NEW.pipeline AND stage = coalesce(NEW.stage, '');"
    )
    remove = (
        " UPDATE pipeline_totals SET deals = deals - 1, amount = amount - coalesce(OLD.amount, 0),"
        " weighted = weighted - coalesce(OLD.amount, 0) * coalesce(OLD.probability, 0) / 100.0"
        " WHERE pipeline = OLD.pipeline AND stage = coalesce(OLD.stage, '');"
    )
    db.execute(f"CREATE TRIGGER pipeline_totals_insert AFTER INSERT ON deals BEGIN {add} END")
    db.execute(f"CREATE TRIGGER pipeline_totals_delete AFTER DELETE ON deals BEGIN {remove} END")
    db.execute(
        "CREATE TRIGGER pipeline_totals_update AFTER UPDATE OF pipeline, stage, amount, probability ON deals"
        f" BEGIN {remove} {add} END"
    )


@migrations()
def m003_covering_index(db):
    """Filtered totals and forecasts scan this index instead of the table (no row lookups)."""
    db.execute(
        "CREATE INDEX idx_deals_pipeline_cover ON deals(pipeline, stage, status, owner, expected_close,"
        " amount, probability, organization_id)"
    )
