"""The scoring tables: rules, models, and the derived scores (see docs/scoring.md).

``score_rules`` and ``score_models`` are what people write (through the Store, audited);
``lead_scores`` is derived from them and the records by set-based SQL
(crm_workspace_scoring/engine.py), with ``score_rule_stats`` (how many contacts each rule
gave points at the last full rescore) and ``score_runs`` (when full rescores ran). A
contact's breakdown by rule is computed on demand by the same SQL. ``lead_scores`` is a contract: the
marketing plugin's segment filters read it by SQL, so its columns stay as they are.
"""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.db import Database

from crm_workspace.data.schema import append_only, ensure_table

migrations = sqlite_utils.Migrations("crm_workspace.scoring")


@migrations()
def m001_tables(db: Database) -> None:
    """Rules, models, each contact's two scores, and what the last full rescores found."""
    ensure_table(
        db,
        "score_rules",
        {
            "id": int,
            "name": str,
            "kind": str,  # fit | engagement
            "condition": str,  # JSON, see conditions.py
            "points": float,  # per match (fit) or per event (engagement)
            "cap": float,  # engagement: the most points the rule gives one contact
            "half_life_days": float,  # engagement: an event's points halve every this many days
            "enabled": int,
            "description": str,
            "created_at": str,
            "updated_at": str,
            "updated_by": str,
            "version": int,
        },
        ("CREATE UNIQUE INDEX idx_score_rules_name ON score_rules(name COLLATE NOCASE)",),
        pk="id",
        not_null={"name", "kind", "condition", "points"},
        defaults={"enabled": 1, "version": 1},
    )
    ensure_table(
        db,
        "score_models",
        {
            "id": int,  # the model's version number
            "trained_at": str,
            "trained_by": str,
            "algorithm": str,
            "features": str,  # JSON list of feature names
            "params": str,  # JSON: intercept, and per feature its definition, mean, scale and coefficient
            "sample_size": int,
            "positives": int,
            "holdout_size": int,
            "auc": float,
        },
        pk="id",
        not_null={"trained_at", "algorithm", "features", "params", "sample_size", "auc"},
    )
    # ``version`` reads as the model's number; generated, so the Store (which keeps a ``version``
    # column for optimistic locking of editable records) never sees or bumps it
    if "version" not in {row[1] for row in db.execute("PRAGMA table_xinfo(score_models)").fetchall()}:
        db.execute("ALTER TABLE score_models ADD COLUMN version INTEGER GENERATED ALWAYS AS (id) VIRTUAL")
    append_only(db, "score_models")  # a model's provenance is never rewritten; a new version supersedes it
    ensure_table(
        db,
        "score_rule_stats",
        {"rule_id": int, "contacts": int, "points": float, "computed_at": str},
        pk="rule_id",
    )
    ensure_table(db, "score_runs", {"id": int, "at": str, "contacts": int, "seconds": float}, pk="id")
    # contacts a large write touched, rescored by the next tick instead of inside that write
    ensure_table(db, "score_dirty", {"contact_id": int}, pk="contact_id")
    ensure_table(
        db,
        "lead_scores",
        {"contact_id": int, "rule_points": float, "model_score": float, "model_version": int, "updated_at": str},
        (
            "CREATE INDEX idx_lead_scores_points ON lead_scores(rule_points)",
            "CREATE INDEX idx_lead_scores_model ON lead_scores(model_score)",
        ),
        pk="contact_id",
        not_null={"rule_points"},
    )


@migrations()
def m002_erased(db: Database) -> None:
    """Contacts ``crm privacy erase`` anonymised have no score (and are never scored again).

    The core's ``erased_contacts`` names them (filled from the audit trail's ``erase`` entries for
    people erased before it existed). This migration once made ``score_erased``, the plugin's own
    copy of that list; ``m003`` drops it from the files that have it.
    """
    if db["lead_scores"].exists():
        db.execute("DELETE FROM lead_scores WHERE contact_id IN (SELECT contact_id FROM erased_contacts)")


@migrations()
def m003_drop_own_erased(db: Database) -> None:
    """Drop ``score_erased``: the core's ``erased_contacts`` is the one list of erased people now.

    Nothing writes the old table any more, so kept it would go stale and mislead whoever
    reads it. Should it name someone the core's list lacks (an audit trail trimmed or edited
    by hand), that person joins the core's list first. The SQL is written out in full, never
    built from names that may change later: a migration says what it did.
    """
    if db["score_erased"].exists():  # anyone only it names joins the core's list before it goes
        db.execute(
            "INSERT OR IGNORE INTO erased_contacts (contact_id, erased_at)"
            " SELECT contact_id, coalesce(erased_at, '') FROM score_erased"
        )
        if db["lead_scores"].exists():
            db.execute("DELETE FROM lead_scores WHERE contact_id IN (SELECT contact_id FROM score_erased)")
    db.execute("DROP TABLE IF EXISTS score_erased")
