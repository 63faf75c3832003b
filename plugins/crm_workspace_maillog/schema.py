"""The e-mail log's tables.

- ``maillog_messages``: every message read from the logging mailbox, once per Message-ID
  (status ``logged``, ``pending`` while an unknown address it names awaits review,
  ``skipped`` for auto/bulk mail, ``failed`` with the reason). Its text is kept only while
  a review entry may still need it, then cleared.
- ``maillog_links``: message → contact → the email activity logged for them (unique per
  message and contact: filing twice logs once).
- ``maillog_review``: addresses mail named that are no contact, waiting for a person
  (``open``), ``ignored``, or ``resolved`` to a contact (then an alias: later mail from the
  address is filed on that contact).
- ``maillog_mentions``: which messages named an address under review, so resolving it
  logs them all.
"""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.db import Database

from crm_workspace.data.schema import ensure_table

migrations = sqlite_utils.Migrations("crm_workspace.maillog")


@migrations()
def m001_tables(db: Database) -> None:
    ensure_table(
        db,
        "maillog_messages",
        {
            "id": int,
            "message_id": str,
            "mailbox_key": str,
            "subject": str,
            "sender": str,
            "sent_at": str,
            "direction": str,
            "owner": str,
            "text": str,
            "status": str,
            "error": str,
            "contacts": int,
            "logged_at": str,
        },
        (
            "CREATE UNIQUE INDEX idx_maillog_messages_mid ON maillog_messages(message_id)",
            "CREATE INDEX idx_maillog_messages_logged ON maillog_messages(logged_at)",
        ),
        pk="id",
        not_null={"message_id", "status"},
        defaults={"contacts": 0},
    )
    ensure_table(
        db,
        "maillog_links",
        {"id": int, "message_id": str, "contact_id": int, "activity_id": int},
        (
            "CREATE UNIQUE INDEX idx_maillog_links_key ON maillog_links(message_id, contact_id)",
            "CREATE INDEX idx_maillog_links_contact ON maillog_links(contact_id)",
        ),
        pk="id",
        not_null={"message_id", "contact_id"},
    )
    ensure_table(
        db,
        "maillog_review",
        {
            "id": int,
            "address": str,
            "name": str,
            "message_ref": str,
            "first_seen": str,
            "last_seen": str,
            "seen": int,
            "status": str,
            "contact_id": int,
            "resolved_by": str,
            "resolved_at": str,
        },
        (
            "CREATE UNIQUE INDEX idx_maillog_review_address ON maillog_review(address COLLATE NOCASE)",
            "CREATE INDEX idx_maillog_review_status ON maillog_review(status, first_seen)",
        ),
        pk="id",
        not_null={"address", "status"},
        defaults={"status": "open", "seen": 1},
    )
    ensure_table(
        db,
        "maillog_mentions",
        {"id": int, "message_id": str, "address": str},
        ("CREATE UNIQUE INDEX idx_maillog_mentions_key ON maillog_mentions(address, message_id)",),
        pk="id",
        not_null={"message_id", "address"},
    )
