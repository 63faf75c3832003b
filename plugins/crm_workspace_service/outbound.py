"""Replies out: a public reply becomes an e-mail in the core outbox, threaded for every mail client.

The message carries ``[#123]`` in its subject, ``In-Reply-To`` the requester's latest message,
``References`` the whole thread and ``Thread-Index`` (Outlook's conversation key), and its
Message-ID is stored on the reply so the requester's answer finds its ticket. The outbox
sends it (``send_pending``); a failed send stays on the message as ``failed`` (shown, and
retried with ``retry``), a temporary one is retried by the outbox with backoff.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from email.utils import getaddresses
from typing import TYPE_CHECKING

from crm_workspace.errors import CrmError

if TYPE_CHECKING:
    from crm_workspace import Workspace

PLUGIN = "service"
#: 100-ns intervals between 1601-01-01 (Windows FILETIME) and 1970-01-01.
_EPOCH_1601 = 116444736000000000


def subject_line(ticket: dict) -> str:
    subject = str(ticket.get("subject") or "").strip()
    tag = f"[#{ticket['id']}]"
    return subject if tag in subject else f"{subject} {tag}".strip()


def thread_index(ticket: dict, replies: int, created: float) -> str:
    """Outlook's ``Thread-Index``: 22 bytes (time + a GUID from the ticket) and 5 bytes per reply after."""
    filetime = int(created * 10_000_000) + _EPOCH_1601
    head = struct.pack(">Q", filetime)[:6] + hashlib.md5(f"ticket-{ticket['id']}".encode()).digest()
    children = b"".join(struct.pack(">I", (n + 1) << 8)[:4] + bytes([n % 256]) for n in range(replies))
    return base64.b64encode(head + children).decode()


def own_addresses(workspace: Workspace) -> set[str]:
    """The desk's own addresses (``service_address`` and the mailer's ``mail_from``), lower case."""
    values = [workspace.setting("service_address", "") or "", workspace.setting("mail_from", "") or ""]
    return {address.lower() for _, address in getaddresses(values) if "@" in address}


def copied(workspace: Workspace, ticket_id: int, requester: str) -> list[str]:
    """Whom the requester copied on their latest e-mail (a reply copies them too), never the desk itself.

    Only when the desk knows its own address (``service_address``): otherwise a reply could
    copy the support mailbox and come back in as new mail.
    """
    own = own_addresses(workspace)
    if not workspace.setting("service_address", ""):
        return []
    row = workspace.query(
        "SELECT recipients FROM ticket_messages WHERE ticket_id = ? AND kind = 'inbound' AND recipients IS NOT NULL"
        " ORDER BY created_at DESC, id DESC LIMIT 1",
        [ticket_id],
    )
    found = [a.lower() for _, a in getaddresses([row[0]["recipients"]])] if row else []
    return [a for a in dict.fromkeys(found) if "@" in a and a not in own and a != requester.lower()]


def _threading(workspace: Workspace, ticket_id: int, own_id: int) -> tuple[str | None, list[str], int]:
    rows = workspace.query(
        "SELECT id, kind, message_id FROM ticket_messages WHERE ticket_id = ? AND kind != 'note'"
        " AND message_id IS NOT NULL AND id != ? ORDER BY created_at, id",
        [ticket_id, own_id],
    )
    ids = [r["message_id"] for r in rows]
    inbound = [r["message_id"] for r in rows if r["kind"] == "inbound"]
    return (inbound[-1] if inbound else (ids[-1] if ids else None)), ids, len(rows)


def queue_reply(workspace: Workspace, ticket: dict, message: dict) -> dict:
    """Queue the e-mail of a public reply (idempotent per message); returns the updated message row."""
    from crm_workspace.services.mailer import make_message
    from crm_workspace.services.outbox import enqueue

    from .sla import parse_time

    store = workspace.store
    email = (
        store.scalar("SELECT email FROM contacts WHERE id = ?", [ticket.get("requester_id")])
        if ticket.get("requester_id")
        else None
    )
    if not email:
        return store.update("ticket_messages", message["id"], {"send_status": "failed", "recipients": None})
    in_reply_to, references, count = _threading(workspace, ticket["id"], message["id"])
    sender = workspace.setting("service_address", "") or None
    cc = copied(workspace, ticket["id"], email)
    mail = make_message(
        to=email,
        subject=subject_line(ticket),
        text=message["body_text"] or "",
        html=message.get("body_html") or None,
        sender=sender,
        reply_to=sender,
        in_reply_to=in_reply_to,
        references=references or None,
        headers={
            "Thread-Index": thread_index(ticket, count, parse_time(ticket["created_at"]).timestamp()),
            "Thread-Topic": str(ticket.get("subject") or "")[:200],
            "Auto-Submitted": "no",
            "X-CRM-Ticket": str(ticket["id"]),
            **({"Cc": ", ".join(cc)} if cc else {}),
        },
    )
    for name, content_type, data in _files_of(workspace, message["id"]):
        maintype, _, subtype = (content_type or "application/octet-stream").partition("/")
        mail.add_attachment(data, maintype=maintype or "application", subtype=subtype or "octet-stream", filename=name)
    outbox_id = enqueue(
        workspace,
        mail,
        key=f"service:message:{message['id']}",
        plugin=PLUGIN,
        ref_table="ticket_messages",
        ref_id=message["id"],
        contact_id=ticket.get("requester_id"),
    )
    return store.update(
        "ticket_messages",
        message["id"],
        {
            "message_id": str(mail["Message-ID"]),
            "in_reply_to": in_reply_to,
            "references": " ".join(references) or None,
            "subject": str(mail["Subject"]),
            "recipients": ", ".join([email, *cc]),
            "outbox_id": outbox_id,
            "send_status": "queued",
        },
    )


def _files_of(workspace: Workspace, message_id: int) -> list[tuple[str, str, bytes]]:
    """The files kept with a reply (not the ones too big to keep), to attach to its e-mail."""
    rows = workspace.query(
        "SELECT a.filename, a.content_type, b.data FROM ticket_attachments a"
        " JOIN ticket_attachment_blobs b ON b.sha256 = a.sha256 WHERE a.ticket_message_id = ? AND a.too_big = 0"
        " ORDER BY a.id",
        [message_id],
    )
    return [(r["filename"], r["content_type"], r["data"]) for r in rows]


def sync_status(workspace: Workspace) -> int:
    """Copy the outbox's verdicts onto the replies not yet known sent; how many changed."""
    rows = workspace.query(
        "SELECT m.id, m.send_status, o.status FROM ticket_messages m JOIN mail_outbox o ON o.id = m.outbox_id"
        " WHERE m.send_status IN ('queued', 'failed', 'unknown') AND o.status != m.send_status"
    )
    updates = []
    for row in rows:
        status = {"sending": "queued"}.get(row["status"], row["status"])
        if status in ("queued", "sent", "failed", "unknown") and status != row["send_status"]:
            updates.append((row["id"], {"send_status": status}, None))
    if updates:
        workspace.store.update_many("ticket_messages", updates)
    return len(updates)


def send_pending(workspace: Workspace, *, limit: int | None = None):
    """Deliver the service's queued replies now, then record each one's fate on its message."""
    from crm_workspace.services.outbox import Delivery, deliver

    try:
        result = deliver(workspace, plugin=PLUGIN, limit=limit)
    except CrmError as error:  # the server is unreachable: everything stays queued, retried later
        result = Delivery(error=str(error))
    sync_status(workspace)
    return result


def retry(workspace: Workspace, message_id: int) -> None:
    """Queue a failed or unknown reply again (a person's decision)."""
    from crm_workspace.services.outbox import requeue

    outbox_id = workspace.store.scalar("SELECT outbox_id FROM ticket_messages WHERE id = ?", [int(message_id)])
    if not outbox_id:
        raise CrmError(f"message {message_id} was never queued (has the requester an e-mail address?)")
    status = workspace.store.scalar("SELECT status FROM mail_outbox WHERE id = ?", [outbox_id])
    if status in ("failed", "unknown"):
        requeue(workspace, [outbox_id])
    elif status == "queued":  # waiting for its next try after a temporary failure: now
        workspace.store.update("mail_outbox", outbox_id, {"send_after": None})
    workspace.store.update("ticket_messages", int(message_id), {"send_status": "queued"})
