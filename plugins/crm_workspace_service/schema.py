"""The service module's tables (names and columns are a contract: see docs/service.md).

``tickets`` with ``ticket_messages`` (the thread), ``ticket_status_history`` (append-only:
every change of status, priority or SLA policy; the SLA is a pure function of it),
``ticket_attachments`` (size-limited blobs), ``sla_policies``, ``business_calendars``,
``ticket_views`` (saved queue views) and ``service_macros`` (canned replies).
"""

from __future__ import annotations

import json

import sqlite_utils
from sqlite_utils.db import Database

from crm_workspace.data.schema import append_only, ensure_table, unique_message

PRIORITIES = ("low", "normal", "high", "urgent")
STATUSES = ("new", "open", "pending", "on_hold", "solved", "closed")
OPEN_STATUSES = ("new", "open", "pending", "on_hold")
CHANNELS = ("email", "phone", "web", "chat")
MESSAGE_KINDS = ("public", "note", "inbound")
SEND_STATUSES = ("queued", "sent", "failed", "unknown")

#: The standard working week: Monday to Friday, 09:00-17:00 with no break.
DEFAULT_HOURS = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}

migrations = sqlite_utils.Migrations("crm_workspace.service")
unique_message("ticket_messages.message_id", "this e-mail (Message-ID) is already stored")


@migrations()
def m001_tables(db: Database) -> None:
    """Calendars, policies, tickets, their thread, history and attachments."""
    ensure_table(
        db,
        "business_calendars",
        {"id": int, "name": str, "tz": str, "hours": str, "holidays": str},
        pk="id",
        not_null={"name", "tz"},
        defaults={"tz": "UTC", "hours": json.dumps(DEFAULT_HOURS), "holidays": "[]"},
    )
    targets = {f"{metric}_{p}": int for metric in ("first_response", "resolution") for p in PRIORITIES}
    ensure_table(
        db,
        "sla_policies",
        {"id": int, "name": str, "calendar_id": int, **targets, "is_default": int},
        pk="id",
        not_null={"name"},
        defaults={"is_default": 0},
        foreign_keys=[("calendar_id", "business_calendars", "id")],
    )
    ensure_table(
        db,
        "tickets",
        {
            "id": int,
            "subject": str,
            "description": str,
            "requester_id": int,
            "organization_id": int,
            "priority": str,
            "status": str,
            "assignee": str,
            "team": str,
            "channel": str,
            "tags": str,
            "sla_policy_id": int,
            "first_response_at": str,
            "solved_at": str,
            "closed_at": str,
            "last_message_at": str,
            "is_open": int,
            "sla_first_response_due_at": str,
            "sla_resolution_due_at": str,
            "sla_due_at": str,
            "sla_sort": str,
            "first_response_minutes": float,
            "resolution_minutes": float,
            "sla_breached": int,
            "reopened": int,
            "flag": str,
            "merge_candidate_id": int,
            "escalated_at": str,
            "created_at": str,
            "updated_at": str,
            "updated_by": str,
            "version": int,
        },
        (
            "CREATE INDEX idx_tickets_open ON tickets(is_open, id)",
            "CREATE INDEX idx_tickets_open_sort ON tickets(is_open, sla_sort, id)",
            "CREATE INDEX idx_tickets_assignee ON tickets(is_open, assignee, sla_sort, id)",
            "CREATE INDEX idx_tickets_team ON tickets(is_open, team, sla_sort, id)",
            "CREATE INDEX idx_tickets_status ON tickets(status, id)",
            "CREATE INDEX idx_tickets_requester ON tickets(requester_id, id)",
            "CREATE INDEX idx_tickets_org ON tickets(organization_id, id)",
            "CREATE INDEX idx_tickets_created ON tickets(created_at)",
            "CREATE INDEX idx_tickets_solved ON tickets(solved_at)",
        ),
        pk="id",
        not_null={"subject", "status", "priority"},
        defaults={"status": "new", "priority": "normal", "channel": "web", "version": 1, "reopened": 0, "is_open": 1},
        foreign_keys=[
            ("requester_id", "contacts", "id"),
            ("organization_id", "organizations", "id"),
            ("sla_policy_id", "sla_policies", "id"),
        ],
    )
    ensure_table(
        db,
        "ticket_messages",
        {
            "id": int,
            "ticket_id": int,
            "kind": str,
            "author": str,
            "author_contact_id": int,
            "sender": str,
            "recipients": str,
            "subject": str,
            "body_text": str,
            "body_html": str,
            "message_id": str,
            "in_reply_to": str,
            "references": str,
            "placed_by": str,
            "send_status": str,
            "outbox_id": int,
            "created_at": str,
        },
        (
            "CREATE INDEX idx_ticket_messages_ticket ON ticket_messages(ticket_id, created_at, id)",
            "CREATE UNIQUE INDEX idx_ticket_messages_mid ON ticket_messages(message_id) WHERE message_id IS NOT NULL",
            "CREATE INDEX idx_ticket_messages_send ON ticket_messages(send_status)",
        ),
        pk="id",
        not_null={"ticket_id", "kind"},
        foreign_keys=[("ticket_id", "tickets", "id"), ("author_contact_id", "contacts", "id")],
    )
    ensure_table(
        db,
        "ticket_status_history",
        {
            "id": int,
            "ticket_id": int,
            "at": str,
            "from_status": str,
            "to_status": str,
            "priority": str,
            "sla_policy_id": int,
            "by": str,
        },
        ("CREATE INDEX idx_ticket_history ON ticket_status_history(ticket_id, at, id)",),
        pk="id",
        not_null={"ticket_id", "at", "to_status"},
        foreign_keys=[("ticket_id", "tickets", "id")],
    )
    append_only(db, "ticket_status_history")
    ensure_table(
        db,
        "ticket_attachments",
        {
            "id": int,
            "ticket_id": int,
            "ticket_message_id": int,
            "filename": str,
            "content_type": str,
            "size": int,
            "sha256": str,
            "too_big": int,
            "created_at": str,
        },
        ("CREATE INDEX idx_ticket_attachments ON ticket_attachments(ticket_id, ticket_message_id)",),
        pk="id",
        not_null={"ticket_id", "filename"},
        defaults={"too_big": 0},
        foreign_keys=[("ticket_id", "tickets", "id"), ("ticket_message_id", "ticket_messages", "id")],
    )
    # the bytes, by content: kept apart so the audit trail (JSON) records the sha256, not megabytes
    ensure_table(db, "ticket_attachment_blobs", {"sha256": str, "size": int, "data": bytes}, pk="sha256")
    ensure_table(
        db,
        "ticket_views",
        {"id": int, "name": str, "owner": str, "filters": str, "created_at": str},
        pk="id",
        not_null={"name", "filters"},
    )
    ensure_table(
        db,
        "service_macros",
        {"id": int, "name": str, "body": str, "kind": str, "set_status": str, "owner": str},
        pk="id",
        not_null={"name", "body"},
        defaults={"kind": "public"},
    )
    db["business_calendars"].insert(
        {"id": 1, "name": "Office hours", "tz": "UTC", "hours": json.dumps(DEFAULT_HOURS), "holidays": "[]"}
    )
    db["sla_policies"].insert(
        {
            "id": 1,
            "name": "Standard",
            "calendar_id": 1,
            "first_response_low": 24 * 60,
            "first_response_normal": 8 * 60,
            "first_response_high": 4 * 60,
            "first_response_urgent": 60,
            "resolution_low": 5 * 8 * 60,
            "resolution_normal": 3 * 8 * 60,
            "resolution_high": 8 * 60,
            "resolution_urgent": 4 * 60,
            "is_default": 1,
        }
    )
