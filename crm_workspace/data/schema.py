"""The core tables, their vocabulary and the core migration set.

Plugins add tables and columns through their own named migration sets; these
are the tables every plugin may rely on (see DESIGN.md).
"""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.db import Database

STAKEHOLDER_TYPES = (
    "customer",
    "prospect",
    "employee",
    "executive",
    "partner",
    "supplier",
    "media",
    "investor",
    "advisor",
    "other",
)

#: Default lifecycle stages, in order; a workspace may override them with the
#: ``lifecycle_stages`` setting. ``churned`` sits outside the forward path.
LIFECYCLE_STAGES = (
    "subscriber",
    "lead",
    "marketing_qualified",
    "sales_qualified",
    "opportunity",
    "customer",
    "advocate",
    "churned",
)

#: Default sales pipeline: (stage, default probability %, status it implies).
DEAL_STAGES = (
    ("qualification", 10, "open"),
    ("needs_analysis", 25, "open"),
    ("proposal", 50, "open"),
    ("negotiation", 75, "open"),
    ("won", 100, "won"),
    ("lost", 0, "lost"),
)
LOST_REASONS = ("price", "competitor", "no budget", "no decision", "timing", "product fit")

ACTIVITY_KINDS = ("call", "email", "meeting", "note", "task")
CHANNELS = ("phone", "email", "web", "social", "in_person")
DEAL_STATUSES = ("open", "won", "lost")
ROLES = ("admin", "member", "viewer")
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

#: Tables whose rows carry created_at/updated_at/version and are written with
#: optimistic locking.
VERSIONED = ("organizations", "contacts", "deals", "activities", "relationships")
#: Tables nobody may update or delete through the Store.
APPEND_ONLY = ("audit_log", "lifecycle_events")

migrations = sqlite_utils.Migrations("crm_workspace.core")

_STAMPS = {"created_at": str, "updated_at": str, "updated_by": str, "version": int}


@migrations()
def m001_core_tables(db: Database) -> None:
    db["users"].create(
        {
            "username": str,
            "display_name": str,
            "email": str,
            "role": str,
            "active": int,
            "created_at": str,
        },
        pk="username",
        defaults={"role": "member", "active": 1},
        not_null={"role"},
    )
    db["organizations"].create(
        {
            "id": int,
            "name": str,
            "domain": str,
            "industry": str,
            "city": str,
            "country": str,
            "phone": str,
            "website": str,
            "owner": str,
            **_STAMPS,
        },
        pk="id",
        not_null={"name"},
        defaults={"version": 1},
    )
    db["contacts"].create(
        {
            "id": int,
            "first_name": str,
            "last_name": str,
            "email": str,
            "phone": str,
            "title": str,
            "organization_id": int,
            "stakeholder_type": str,
            "lifecycle_stage": str,
            "source": str,
            "notes": str,
            "owner": str,
            **_STAMPS,
        },
        pk="id",
        foreign_keys=[("organization_id", "organizations", "id")],
        defaults={"version": 1, "stakeholder_type": "prospect"},
    )
    db["deals"].create(
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
            **_STAMPS,
        },
        pk="id",
        foreign_keys=[
            ("organization_id", "organizations", "id"),
            ("contact_id", "contacts", "id"),
        ],
        not_null={"title"},
        defaults={"version": 1, "status": "open", "currency": "EUR"},
    )
    db["activities"].create(
        {
            "id": int,
            "kind": str,
            "subject": str,
            "body": str,
            "channel": str,
            "contact_id": int,
            "organization_id": int,
            "deal_id": int,
            "occurred_at": str,
            "due_at": str,
            "done": int,
            "owner": str,
            **_STAMPS,
        },
        pk="id",
        foreign_keys=[
            ("contact_id", "contacts", "id"),
            ("organization_id", "organizations", "id"),
            ("deal_id", "deals", "id"),
        ],
        not_null={"kind"},
        defaults={"version": 1, "done": 0},
    )
    db["relationships"].create(
        {
            "id": int,
            "source_type": str,
            "source_id": int,
            "target_type": str,
            "target_id": int,
            "kind": str,
            "strength": int,
            "notes": str,
            **_STAMPS,
        },
        pk="id",
        not_null={"source_type", "source_id", "target_type", "target_id", "kind"},
        defaults={"version": 1, "strength": 3},
    )
    db["lifecycle_events"].create(
        {
            "id": int,
            "contact_id": int,
            "from_stage": str,
            "to_stage": str,
            "at": str,
            "by": str,
        },
        pk="id",
        not_null={"contact_id", "to_stage", "at"},
    )
    db["audit_log"].create(
        {
            "id": int,
            "at": str,
            "user": str,
            "table_name": str,
            "row_id": str,
            "action": str,
            "changes": str,
        },
        pk="id",
    )
    db["import_batches"].create(
        {
            "id": str,
            "at": str,
            "user": str,
            "file_name": str,
            "sha256": str,
            "entity": str,
            "created": int,
            "updated": int,
            "skipped": int,
            "rejected": int,
            "status": str,
        },
        pk="id",
    )
    db["settings"].create({"key": str, "value": str}, pk="key")
    db["plugin_state"].create({"name": str, "enabled": int, "changed_at": str}, pk="name")

    for sql in (
        # one contact per email, whatever its case; blank emails are allowed many times
        "CREATE UNIQUE INDEX idx_contacts_email ON contacts(email COLLATE NOCASE)"
        " WHERE email IS NOT NULL AND email != ''",
        "CREATE INDEX idx_contacts_name ON contacts(last_name, first_name, id)",
        "CREATE INDEX idx_contacts_org ON contacts(organization_id)",
        "CREATE INDEX idx_contacts_stage ON contacts(lifecycle_stage)",
        "CREATE INDEX idx_contacts_owner ON contacts(owner)",
        "CREATE INDEX idx_contacts_type ON contacts(stakeholder_type)",
        "CREATE INDEX idx_organizations_name ON organizations(name COLLATE NOCASE)",
        "CREATE INDEX idx_deals_stage ON deals(status, stage)",
        "CREATE INDEX idx_deals_org ON deals(organization_id)",
        "CREATE INDEX idx_deals_contact ON deals(contact_id)",
        "CREATE INDEX idx_deals_owner ON deals(owner)",
        "CREATE INDEX idx_activities_contact ON activities(contact_id, occurred_at)",
        "CREATE INDEX idx_activities_org ON activities(organization_id, occurred_at)",
        "CREATE INDEX idx_activities_deal ON activities(deal_id, occurred_at)",
        "CREATE INDEX idx_activities_due ON activities(owner, done, due_at)",
        "CREATE INDEX idx_relationships_source ON relationships(source_type, source_id)",
        "CREATE INDEX idx_relationships_target ON relationships(target_type, target_id)",
        "CREATE INDEX idx_lifecycle_contact ON lifecycle_events(contact_id, at)",
        "CREATE INDEX idx_lifecycle_at ON lifecycle_events(at)",
        "CREATE INDEX idx_audit_record ON audit_log(table_name, row_id)",
        "CREATE INDEX idx_audit_at ON audit_log(at)",
        "CREATE INDEX idx_audit_user ON audit_log(user, at)",
    ):
        db.execute(sql)
    for table in APPEND_ONLY:
        for action in ("UPDATE", "DELETE"):
            db.execute(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )


@migrations()
def m002_passwords_and_consent(db: Database) -> None:
    """Login passwords (argon2 hashes, never clear text) and marketing consent on contacts."""
    db["users"].add_column("password_hash", str)
    db["contacts"].add_column("marketing_consent", int)  # 1 given, 0 withdrawn, NULL never asked
    db["contacts"].add_column("consent_at", str)
    db["contacts"].add_column("consent_source", str)


@migrations()
def m003_login_sessions_and_lockout(db: Database) -> None:
    """Server-side login sessions (revoked at logout) and failed-login counters (lockout), shared by processes.

    Sessions hold a SHA-256 of the cookie's random token, never the token: reading the
    table does not let anyone take a session over; and a fingerprint of the password
    hash at login, so a new or cleared password ends every session of that user.
    """
    db["login_sessions"].create(
        {
            "token_hash": str,
            "username": str,
            "password_fingerprint": str,
            "created_at": float,
            "expires_at": float,
            "revoked_at": float,
        },
        pk="token_hash",
        not_null={"username", "created_at", "expires_at"},
    )
    db["login_sessions"].create_index(["username"])
    db["login_failures"].create(
        {"key": str, "failures": int, "last_at": float, "locked_until": float},
        pk="key",
        not_null={"failures", "last_at"},
        defaults={"failures": 0, "locked_until": 0},
    )
