"""Around a ticket: the requester at a glance (other tickets, deals, lifecycle stage), macros."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crm_workspace.errors import CrmError

if TYPE_CHECKING:
    from crm_workspace import Workspace


def requester(workspace: Workspace, ticket: dict) -> dict | None:
    if not ticket.get("requester_id"):
        return None
    rows = workspace.query(
        "SELECT c.id, c.first_name, c.last_name, c.email, c.phone, c.lifecycle_stage, c.stakeholder_type, c.source,"
        " o.id AS organization_id, o.name AS organization FROM contacts c LEFT JOIN organizations o ON o.id = c.organization_id"
        " WHERE c.id = ?",
        [ticket["requester_id"]],
    )
    return rows[0] if rows else None


def other_tickets(workspace: Workspace, ticket: dict, limit: int = 10) -> list[dict]:
    if not ticket.get("requester_id"):
        return []
    return workspace.query(
        "SELECT id, subject, status, priority, created_at FROM tickets WHERE requester_id = ? AND id != ?"
        " ORDER BY id DESC LIMIT ?",
        [ticket["requester_id"], ticket["id"], limit],
    )


def deals(workspace: Workspace, ticket: dict, limit: int = 10) -> list[dict]:
    """The requester's and their organization's deals (when the pipeline module keeps any)."""
    if not workspace.store.scalar("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'deals'"):
        return []
    return workspace.query(
        "SELECT id, title, stage, status, amount, currency FROM deals WHERE contact_id = ?"
        " OR (organization_id IS NOT NULL AND organization_id = ?) ORDER BY id DESC LIMIT ?",
        [ticket.get("requester_id"), ticket.get("organization_id"), limit],
    )


def tickets_of(workspace: Workspace, table: str, record_id: int, limit: int = 20) -> list[dict]:
    column = "requester_id" if table == "contacts" else "organization_id"
    return workspace.query(
        f"SELECT id, subject, status, priority, assignee, created_at, sla_due_at FROM tickets WHERE {column} = ?"
        " ORDER BY is_open DESC, id DESC LIMIT ?",
        [int(record_id), limit],
    )


def macros(workspace: Workspace) -> list[dict]:
    return workspace.query(
        "SELECT id, name, body, kind, set_status FROM service_macros WHERE owner IS NULL OR owner = ? ORDER BY name",
        [workspace.user],
    )


def merge_fields(workspace: Workspace, ticket: dict) -> dict:
    """What a macro may use: ``{{ first_name }}``, ``{{ ticket.id }}``, ``{{ agent }}``..."""
    person = requester(workspace, ticket) or {}
    agent = (
        workspace.store.scalar("SELECT display_name FROM users WHERE username = ?", [workspace.user]) or workspace.user
    )
    return {
        "first_name": person.get("first_name") or None,
        "last_name": person.get("last_name") or None,
        "email": person.get("email"),
        "organization": person.get("organization"),
        "agent": agent,
        "ticket": {
            "id": ticket["id"],
            "subject": ticket["subject"],
            "status": ticket["status"],
            "priority": ticket["priority"],
        },
    }


def render_macro(workspace: Workspace, macro: dict, ticket: dict) -> str:
    """A macro's text for this ticket (core templates: sandboxed; a broken macro names its line)."""
    from crm_workspace.services.templates import render

    if not macro.get("body"):
        raise CrmError("this macro is empty")
    return render(macro["body"], merge_fields(workspace, ticket), html=False)
