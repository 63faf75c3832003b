"""The core tables, their vocabulary and the core migration set.

The core owns the shared tables every plugin may rely on (users, organizations,
contacts, activities, audit_log, settings, plugin_state, erased_contacts; see
DESIGN.md). Modules create their own tables (deals, relationships,
lifecycle_events, import_batches, ...) in their named migration sets with
``ensure_table``; workspaces made before 0.2 got those four from the core's
``m001``, which ``ensure_table`` accepts.
The default lifecycle stages stay here because ``contacts.lifecycle_stage`` is a
core column the core validates; the lifecycle plugin only records the moves.
"""

from __future__ import annotations

from typing import Any

import sqlite_utils
from sqlite_utils.db import Database

from crm_workspace.data import access

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

ACTIVITY_KINDS = ("call", "email", "meeting", "note", "task")
CHANNELS = ("phone", "email", "web", "social", "in_person")
#: The channel an activity of each kind usually goes through (a form's default).
CHANNEL_OF = {"call": "phone", "email": "email", "meeting": "in_person", "note": "web", "task": "phone"}
ROLES = ("admin", "member", "viewer")

#: Core tables nobody may update or delete through the Store. A plugin makes its own
#: tables append-only with ``append_only(db, table)``: the triggers are the declaration.
APPEND_ONLY = ("audit_log",)

#: The core's record of the contacts ``crm privacy erase`` anonymised (``contact_id``, ``erased_at``):
#: written by the erasure alone, read by modules through ``crm_workspace.services.privacy``.
ERASED_CONTACTS = "erased_contacts"

#: Core tables the Store writes for nobody, and why: the core itself fills them.
CORE_WRITTEN = {"audit_log": "append-only", ERASED_CONTACTS: "written by the privacy erasure alone"}

#: What a person is told when a write breaks a unique index, keyed by what SQLite
#: names in the error: ``"table.column"`` (``"t.a, t.b"`` for several columns), or
#: ``"index 'name'"`` for an index on an expression. The Store's error
#: translation reads it; plugins add theirs with ``unique_message``.
UNIQUE_MESSAGES: dict[str, str] = {}


def unique_message(constraint: str, message: str) -> None:
    """Declare the message for breaking ``constraint`` (e.g. ``"contacts.email"``)."""
    UNIQUE_MESSAGES[constraint] = message


unique_message("contacts.email", "another contact already has this email address")


#: Tables only admins may write (besides the core's users, plugin state and logins); see ``admin_table``.
ADMIN_ONLY: set[str] = set()


def admin_table(table: str) -> None:
    """Declare ``table`` writable by admins only: members' and viewers' writes are refused (PermissionDenied)."""
    ADMIN_ONLY.add(table)


def hide_column(table: str, column: str) -> None:
    """Declare ``table.column`` a secret (a credential's hash), like ``users.password_hash``.

    Every read through the Store, ``ws.df`` and ``ws.query`` sees it as NULL (so a
    ``WHERE`` on it matches nothing), the audit trail records ``<redacted>`` instead
    of its value, and only ``store.secret(table, column, row_id)`` reads it back.
    """
    access.HIDDEN_COLUMNS.add((table, column))


def is_hidden(table: str, column: str) -> bool:
    """Whether ``table.column`` is hidden from reads (``hide_column``, and ``users.password_hash``)."""
    return (table, column) in access.HIDDEN_COLUMNS


def append_only(db: Database, table: str) -> None:
    """Refuse every UPDATE and DELETE on ``table``, even in raw SQL (idempotent)."""
    for action in ("UPDATE", "DELETE"):
        db.execute(
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_{action.lower()} BEFORE {action} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
        )


def ensure_table(
    db: Database, name: str, columns: dict[str, Any], indexes: tuple[str, ...] = (), **options: Any
) -> None:
    """Create table ``name`` as described, or complete the one an older core migration made.

    Workspaces made before a module owned its table already have it (the core's
    ``m001`` created it): then only missing columns are added and indexes created
    if absent, so such a file opens unchanged. ``options`` are those of
    ``Table.create`` (pk, not_null, defaults, foreign_keys).
    """
    table = db[name]
    if not table.exists():
        table.create(columns, **options)
    else:
        have = set(table.columns_dict)
        for column, kind in columns.items():
            if column not in have:
                table.add_column(column, kind)
    for sql in indexes:
        db.execute(sql.replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1))


migrations = sqlite_utils.Migrations("crm_workspace.core")

_STAMPS = {"created_at": str, "updated_at": str, "updated_by": str, "version": int}


@migrations()
def m001_core_tables(db: Database) -> None:
    """The shared tables. ``activities.deal_id`` has no foreign key here: deals belong to the pipeline."""
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
        ],
        not_null={"kind"},
        defaults={"version": 1, "done": 0},
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
        "CREATE INDEX idx_activities_contact ON activities(contact_id, occurred_at)",
        "CREATE INDEX idx_activities_org ON activities(organization_id, occurred_at)",
        "CREATE INDEX idx_activities_deal ON activities(deal_id, occurred_at)",
        "CREATE INDEX idx_activities_due ON activities(owner, done, due_at)",
        "CREATE INDEX idx_audit_record ON audit_log(table_name, row_id)",
        "CREATE INDEX idx_audit_at ON audit_log(at)",
        "CREATE INDEX idx_audit_user ON audit_log(user, at)",
    ):
        db.execute(sql)
    for table in APPEND_ONLY:
        append_only(db, table)


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


#: The states of a row of ``mail_outbox`` (crm_workspace/services/outbox.py). ``unknown``: left
#: ``sending`` by a sender that died mid-message; never resent unless a person requeues it.
OUTBOX_STATUSES = ("queued", "sending", "sent", "failed", "unknown")


@migrations()
def m004_mail_outbox(db: Database) -> None:
    """The one durable mail ledger every module sends through (crm_workspace/services/outbox.py).

    ``key`` makes enqueueing idempotent (unique); ``message`` is the whole RFC 5322
    text as sent (7-bit), ``recipient`` the envelope's addresses, comma-separated;
    ``claimed_by`` names the process (host:pid) that marked a row ``sending``.
    """
    db["mail_outbox"].create(
        {
            "id": int,
            "key": str,
            "plugin": str,
            "ref_table": str,
            "ref_id": str,
            "contact_id": int,
            "sender": str,
            "recipient": str,
            "subject": str,
            "message_id": str,
            "message": str,
            "status": str,
            "attempts": int,
            "last_error": str,
            "permanent": int,
            "queued_at": str,
            "send_after": str,
            "attempted_at": str,
            "claimed_by": str,
            "sent_at": str,
        },
        pk="id",
        not_null={"key", "status"},
        defaults={"status": "queued", "attempts": 0, "permanent": 0},
    )
    db.execute("CREATE UNIQUE INDEX idx_mail_outbox_key ON mail_outbox(key)")
    db.execute("CREATE INDEX idx_mail_outbox_due ON mail_outbox(status, send_after, id)")
    db.execute("CREATE INDEX idx_mail_outbox_plugin ON mail_outbox(plugin, status)")
    db.execute("CREATE INDEX idx_mail_outbox_contact ON mail_outbox(contact_id)")


@migrations()
def m005_mail_outbox_retention(db: Database) -> None:
    """Indexes for the outbox's retention scan (crm_workspace/services/outbox.py ``prune``), hourly.

    Each holds exactly the rows one of its two steps may still touch, keyed by status and
    the row's last moment, so a prune that finds nothing to do reads no kept row: rows of no
    record (removed when old), and rows of a record that still hold their text (emptied when
    old). An emptied row leaves the second index: the ledger rows records keep for ever cost
    a scan nothing. The expressions are the ones ``outbox.FINISHED`` and ``prune`` use.
    """
    finished = "mail_outbox(status, coalesce(sent_at, attempted_at, queued_at))"
    db.execute(f"CREATE INDEX idx_mail_outbox_removable ON {finished} WHERE coalesce(ref_table, '') = ''")
    db.execute(
        f"CREATE INDEX idx_mail_outbox_emptiable ON {finished}"
        " WHERE coalesce(ref_table, '') != '' AND message IS NOT NULL"
    )


@migrations()
def m006_erased_contacts(db: Database) -> None:
    """``erased_contacts``: one row per contact ``crm privacy erase`` anonymised, kept for ever (append-only).

    Every module that must never take an erased person again (segments, sequences, scores)
    reads this one list instead of keeping its own. People erased before it existed are
    found by the audit trail's ``erase`` entries (the erasure's own mark), so a file made by
    an older version is right at once.
    """
    db[ERASED_CONTACTS].create({"contact_id": int, "erased_at": str}, pk="contact_id", not_null={"erased_at"})
    db.execute(
        f"INSERT OR IGNORE INTO {ERASED_CONTACTS} (contact_id, erased_at)"
        " SELECT CAST(row_id AS INTEGER), max(at) FROM audit_log"
        " WHERE table_name = 'contacts' AND action = 'erase' GROUP BY row_id"
    )
    append_only(db, ERASED_CONTACTS)


#: Why an erased person's contact row cannot be deleted (the trigger of ``m007``; the Store passes it on).
TOMBSTONE = (
    "this contact was erased for privacy: its anonymised row stays as a tombstone"
    " (so its id is never given to someone else) and cannot be deleted"
)


@migrations()
def m007_keep_erased_tombstones(db: Database) -> None:
    """An erased person's anonymised contact row stays for ever: deleting it is refused.

    ``contacts.id`` is an ``INTEGER PRIMARY KEY`` without AUTOINCREMENT, so deleting the
    highest-id contact would let the next new contact take its id, and ``erased_contacts``
    would then take that new person for erased for ever. The SQL is written out in full
    (not built from names that may change later): a migration says what it did.
    """
    db.execute(
        "CREATE TRIGGER IF NOT EXISTS contacts_keep_erased BEFORE DELETE ON contacts"
        " WHEN OLD.id IN (SELECT contact_id FROM erased_contacts)"
        " BEGIN SELECT RAISE(ABORT, 'this contact was erased for privacy: its anonymised row stays as a tombstone"
        " (so its id is never given to someone else) and cannot be deleted'); END"
    )
