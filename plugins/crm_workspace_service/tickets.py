"""Ticket operations: open, reply, note, assign, change status (one at a time or in bulk).

Every write goes through the Store, so validation derives the SLA columns and the history
row is appended by ``crm_record_changed``. A reply carries the ticket ``version`` the agent
saw: if someone else wrote in the meantime the Store raises ``ConflictError`` and nothing is
sent (the page asks first).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from crm_workspace.errors import CrmError, NotFound

from . import clock

if TYPE_CHECKING:
    from crm_workspace import Workspace

TICKET_FIELDS = (
    "subject",
    "description",
    "requester_id",
    "organization_id",
    "priority",
    "status",
    "assignee",
    "team",
    "channel",
    "tags",
    "sla_policy_id",
)


def create_ticket(workspace: Workspace, **fields: Any) -> dict:
    """Open a ticket (status new unless given); the requester's organization by default."""
    store = workspace.store
    record = {k: v for k, v in fields.items() if v is not None}
    if record.get("requester_id") and not record.get("organization_id"):
        org = store.scalar("SELECT organization_id FROM contacts WHERE id = ?", [record["requester_id"]])
        if org:
            record["organization_id"] = org
    return store.insert("tickets", record)


def open_for_requester(workspace: Workspace, *, subject: str, email: str = "", **fields: Any) -> dict:
    """Open a ticket for the contact with ``email`` (a new contact if nobody has it yet), in one transaction."""
    from crm_workspace.data.fields import BadValue, normalize_email

    store = workspace.store
    if not (subject or "").strip():
        raise CrmError("give the ticket a subject")
    with store.transaction():
        requester = None
        if (email or "").strip():
            try:
                address = normalize_email(email)
            except BadValue as error:
                raise CrmError(f"the requester's e-mail: {error}") from None
            rows = workspace.query("SELECT id FROM contacts WHERE email = ? COLLATE NOCASE", [address])
            requester = (
                rows[0]["id"]
                if rows
                else store.insert(
                    "contacts", {"email": address, "first_name": address.split("@")[0], "source": "service desk"}
                )["id"]
            )
        return create_ticket(
            workspace,
            subject=subject.strip(),
            requester_id=requester,
            **{k: v for k, v in fields.items() if v not in (None, "")},
        )


def get_ticket(workspace: Workspace, ticket_id: int) -> dict:
    try:
        return workspace.store.get("tickets", int(ticket_id))
    except NotFound:
        raise NotFound(f"no ticket #{ticket_id}") from None


def update_ticket(workspace: Workspace, ticket_id: int, changes: dict, *, version: int | None = None) -> dict:
    return workspace.store.update("tickets", int(ticket_id), changes, version=version)


def bulk_update(workspace: Workspace, ticket_ids: Iterable[int], changes: dict) -> list[dict]:
    """The same change (assignee, team, status, priority) on many tickets, all or nothing."""
    allowed = {"assignee", "team", "status", "priority", "tags"}
    unknown = set(changes) - allowed
    if unknown:
        raise CrmError(f"bulk changes take {', '.join(sorted(allowed))}, not {', '.join(sorted(unknown))}")
    return workspace.store.update_many("tickets", [(int(i), dict(changes), None) for i in ticket_ids])


def post_message(
    workspace: Workspace,
    ticket_id: int,
    *,
    kind: str,
    body_text: str = "",
    body_html: str | None = None,
    author: str | None = None,
    version: int | None = None,
    set_status: str | None = None,
    attachments: Iterable[dict] = (),
    **fields: Any,
) -> dict:
    """Add a public reply, an internal note or an inbound message to a ticket's thread.

    A public reply is the first response if none was given (and opens a new ticket); an
    inbound message reopens a pending, on-hold or solved ticket. A public reply is queued in the
    core outbox in the same transaction (``outbound.queue_reply``); sending happens after.
    """
    store = workspace.store
    if kind in ("public", "note") and not (body_text or "").strip():
        raise CrmError("write something before sending")
    now = clock.now_iso()
    with store.transaction():
        ticket = get_ticket(workspace, ticket_id)
        changes: dict[str, Any] = {"last_message_at": now}
        if kind == "public":
            if not ticket["first_response_at"]:
                changes["first_response_at"] = now
            if ticket["status"] == "new":
                changes["status"] = "open"
        elif kind == "inbound" and ticket["status"] in ("pending", "on_hold", "solved"):
            changes["status"] = "open"
        if set_status:
            changes["status"] = set_status
        ticket = store.update("tickets", ticket["id"], changes, version=version)
        message = store.insert(
            "ticket_messages",
            {
                "ticket_id": ticket["id"],
                "kind": kind,
                "author": author or (workspace.user if kind != "inbound" else None),
                "body_text": body_text,
                "body_html": body_html,
                "created_at": now,
                "send_status": "queued" if kind == "public" else None,
                **fields,
            },
        )
        for attachment in attachments:
            add_attachment(workspace, ticket["id"], message["id"], **attachment)
        if kind == "public":
            from .outbound import queue_reply

            message = queue_reply(workspace, ticket, message)
    return message


def add_attachment(
    workspace: Workspace,
    ticket_id: int,
    message_id: int | None,
    *,
    filename: str,
    data: bytes | None,
    content_type: str = "application/octet-stream",
    size: int | None = None,
    too_big: bool = False,
) -> dict:
    """Keep a file with a ticket; one over the size limit is kept as a name and size only (``too_big``).

    The bytes go to ``ticket_attachment_blobs`` by sha256 (written once, never changed); the
    attachment row, audited like any record, names them by that hash.
    """
    store = workspace.store
    limit = int(workspace.setting("service_attachment_max_bytes", 10_000_000))
    size = len(data) if data is not None else int(size or 0)
    if too_big or data is None or size > limit:
        data, too_big = None, True
    digest = hashlib.sha256(data).hexdigest() if data is not None else None
    with store.transaction():
        if data is not None:
            store.conn.execute(
                "INSERT OR IGNORE INTO ticket_attachment_blobs (sha256, size, data) VALUES (?, ?, ?)",
                [digest, size, data],
            )
        return store.insert(
            "ticket_attachments",
            {
                "ticket_id": ticket_id,
                "ticket_message_id": message_id,
                "filename": filename,
                "content_type": content_type,
                "size": size,
                "sha256": digest,
                "too_big": int(too_big),
                "created_at": clock.now_iso(),
            },
        )


def attachment_bytes(workspace: Workspace, attachment_id: int) -> tuple[dict, bytes]:
    """An attachment's row and its bytes (``NotFound`` when it has none: too big, or unknown)."""
    rows = workspace.query(
        "SELECT a.*, b.data FROM ticket_attachments a JOIN ticket_attachment_blobs b ON b.sha256 = a.sha256 WHERE a.id = ?",
        [int(attachment_id)],
    )
    if not rows:
        raise NotFound(f"no stored attachment {attachment_id}")
    row = rows[0]
    return row, row.pop("data")


def merge_ticket(workspace: Workspace, source_id: int, target_id: int) -> dict:
    """Move ``source``'s thread into ``target`` and close ``source`` (the merge queue's action)."""
    store = workspace.store
    if int(source_id) == int(target_id):
        raise CrmError("a ticket cannot be merged into itself")
    with store.transaction():
        source, target = get_ticket(workspace, source_id), get_ticket(workspace, target_id)
        messages = store.query("SELECT id FROM ticket_messages WHERE ticket_id = ?", [source["id"]])
        store.update_many("ticket_messages", [(m["id"], {"ticket_id": target["id"]}, None) for m in messages])
        attachments = store.query("SELECT id FROM ticket_attachments WHERE ticket_id = ?", [source["id"]])
        store.update_many("ticket_attachments", [(a["id"], {"ticket_id": target["id"]}, None) for a in attachments])
        store.update(
            "tickets",
            source["id"],
            {"status": "closed", "flag": f"merged into #{target['id']}", "merge_candidate_id": None},
        )
        changes = {"last_message_at": clock.now_iso()}
        if target["status"] in ("pending", "on_hold", "solved"):
            changes["status"] = "open"
        return store.update("tickets", target["id"], changes)


def thread(workspace: Workspace, ticket_id: int) -> list[dict]:
    """The messages of a ticket, oldest first, with their attachments' names."""
    rows = workspace.query(
        "SELECT m.*, (SELECT json_group_array(json_object('id', a.id, 'filename', a.filename, 'size', a.size,"
        " 'too_big', a.too_big)) FROM ticket_attachments a WHERE a.ticket_message_id = m.id) AS files"
        " FROM ticket_messages m WHERE m.ticket_id = ? ORDER BY m.created_at, m.id",
        [int(ticket_id)],
    )
    return rows
