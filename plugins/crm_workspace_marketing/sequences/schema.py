"""The sequence tables, one named migration set (``crm_workspace.sequences``).

- ``sequences``: a nurture sequence: its trigger (``trigger_kind`` + ``trigger_args`` JSON),
  its exit conditions (``exit_on`` JSON list: replied, became_customer, unsubscribed,
  ``stage:<name>``), ``status`` active or paused.
- ``sequence_steps``: its steps in ``position`` order; ``kind`` wait | email | task |
  set_field | set_stage | branch, ``args`` JSON.
- ``sequence_enrollments``: a contact in a sequence: the step it is at, when that step is due
  (``next_run_at``), ``status`` active → completed | exited | failed; at most one active
  enrollment per sequence and contact. ``claim``/``claimed_at`` mark a runner working on it.
- ``sequence_runs``: the ledger (append-only): every step done, e-mail queued, retry, exit.
"""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.db import Database

from crm_workspace.data.schema import append_only, ensure_table, unique_message

migrations = sqlite_utils.Migrations("crm_workspace.sequences")

_STAMPS = {"created_at": str, "updated_at": str, "updated_by": str, "version": int}

unique_message("sequences.name", "another sequence already has this name")


@migrations()
def m001_sequences(db: Database) -> None:
    ensure_table(
        db,
        "sequences",
        {
            "id": int,
            "name": str,
            "description": str,
            "trigger_kind": str,
            "trigger_args": str,
            "exit_on": str,
            "sender": str,
            "status": str,
            "owner": str,
            **_STAMPS,
        },
        ("CREATE UNIQUE INDEX idx_sequences_name ON sequences(name COLLATE NOCASE)",),
        pk="id",
        not_null={"name", "trigger_kind", "status"},
        defaults={"version": 1, "status": "active", "trigger_args": "{}", "exit_on": "[]"},
    )
    ensure_table(
        db,
        "sequence_steps",
        {"id": int, "sequence_id": int, "position": int, "kind": str, "args": str, **_STAMPS},
        ("CREATE UNIQUE INDEX idx_sequence_steps ON sequence_steps(sequence_id, position)",),
        pk="id",
        not_null={"sequence_id", "position", "kind"},
        defaults={"version": 1, "args": "{}"},
    )
    ensure_table(
        db,
        "sequence_enrollments",
        {
            "id": int,
            "sequence_id": int,
            "contact_id": int,
            "current_step": int,
            "next_run_at": str,
            "status": str,
            "exit_reason": str,
            "attempts": int,
            "last_error": str,
            "step_started_at": str,
            "enrolled_at": str,
            "claim": str,
            "claimed_at": str,
            **_STAMPS,
        },
        (
            "CREATE UNIQUE INDEX idx_sequence_enrollments_active ON sequence_enrollments(sequence_id, contact_id)"
            " WHERE status = 'active'",
            "CREATE INDEX idx_sequence_enrollments_due ON sequence_enrollments(status, next_run_at)",
            "CREATE INDEX idx_sequence_enrollments_contact ON sequence_enrollments(contact_id, sequence_id)",
        ),
        pk="id",
        not_null={"sequence_id", "contact_id", "status"},
        defaults={"version": 1, "status": "active", "current_step": 0, "attempts": 0},
    )
    ensure_table(
        db,
        "sequence_runs",
        {
            "id": int,
            "enrollment_id": int,
            "sequence_id": int,
            "contact_id": int,
            "step": int,
            "action": str,
            "outcome": str,
            "detail": str,
            "outbox_id": int,
            "at": str,
        },
        (
            "CREATE INDEX idx_sequence_runs_enrollment ON sequence_runs(enrollment_id, step)",
            "CREATE INDEX idx_sequence_runs_at ON sequence_runs(at, outcome)",
        ),
        pk="id",
        not_null={"action", "outcome", "at"},
    )
    append_only(db, "sequence_runs")
