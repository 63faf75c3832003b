"""The surveys' tables: ``survey_responses`` and ``survey_flags`` (churn risk).

``survey_responses``: one CSAT answer per ticket (``kind`` csat, ``score`` 1 good / 0 bad,
changeable for 7 days) and one NPS answer per contact and period (``kind`` nps, ``score``
0–10, ``period`` the first day of the survey period). ``activity_id`` is the contact's
timeline row that shows it.

``survey_flags``: a low score (CSAT bad, NPS 0–6) opens a churn-risk flag on the contact;
clearing it (a person, or a better answer to the same survey) sets ``cleared_at``/``cleared_by``:
the flag is never deleted, so its history stays readable.
"""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.db import Database

from crm_workspace.data.schema import ensure_table, unique_message

KINDS = ("csat", "nps")
STAMPS = {"created_at": str, "updated_at": str, "updated_by": str, "version": int}

migrations = sqlite_utils.Migrations("crm_workspace.surveys")
unique_message("survey_responses.ticket_id", "this ticket already has a CSAT answer")


@migrations()
def m001_tables(db: Database) -> None:
    ensure_table(
        db,
        "survey_responses",
        {
            "id": int,
            "kind": str,
            "contact_id": int,
            "ticket_id": int,
            "score": int,
            "comment": str,
            "period": str,
            "responded_at": str,
            "activity_id": int,
            **STAMPS,
        },
        (
            "CREATE UNIQUE INDEX idx_survey_csat_ticket ON survey_responses(ticket_id) WHERE kind = 'csat'",
            "CREATE UNIQUE INDEX idx_survey_nps_period ON survey_responses(contact_id, period) WHERE kind = 'nps'",
            "CREATE INDEX idx_survey_kind_at ON survey_responses(kind, responded_at)",
            "CREATE INDEX idx_survey_contact ON survey_responses(contact_id, responded_at)",
        ),
        pk="id",
        not_null={"kind", "score", "responded_at"},
        defaults={"version": 1},
        foreign_keys=[("contact_id", "contacts", "id")],
    )
    ensure_table(
        db,
        "survey_flags",
        {
            "id": int,
            "contact_id": int,
            "response_id": int,
            "reason": str,
            "flagged_at": str,
            "cleared_at": str,
            "cleared_by": str,
            **STAMPS,
        },
        ("CREATE INDEX idx_survey_flags_contact ON survey_flags(contact_id, cleared_at)",),
        pk="id",
        not_null={"contact_id", "flagged_at"},
        defaults={"version": 1},
        foreign_keys=[("contact_id", "contacts", "id"), ("response_id", "survey_responses", "id")],
    )


@migrations()
def m002_optouts(db: Database) -> None:
    """``survey_optouts``: contacts who asked for no more NPS surveys (one row each; deleting it opts back in)."""
    ensure_table(
        db,
        "survey_optouts",
        {"id": int, "contact_id": int, "at": str, **STAMPS},
        ("CREATE UNIQUE INDEX idx_survey_optouts_contact ON survey_optouts(contact_id)",),
        pk="id",
        not_null={"contact_id", "at"},
        defaults={"version": 1},
        foreign_keys=[("contact_id", "contacts", "id")],
    )
