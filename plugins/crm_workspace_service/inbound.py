"""E-mail in: each new message of the support mailbox becomes a ticket or joins its thread.

Rules, in order (the one that placed a message is kept in ``ticket_messages.placed_by``):

- ``duplicate``: a Message-ID already stored is skipped (fetching twice stores once);
- ``header``: ``In-Reply-To``/``References`` name a message of a ticket;
- ``subject``: the subject carries ``[#123]`` of an existing ticket;
- a match joins the thread only if the sender is the requester or a participant of that thread
  (someone who wrote in it or was copied on it); otherwise a new ticket is opened, flagged,
  with ``merge_candidate_id`` pointing at the claimed ticket (the merge queue): ``header-unverified``;
- a reply to a closed ticket opens a follow-up ticket (``follow-up``);
- anything else opens a ticket (``new``); an unknown sender becomes a contact (source "service inbox").

Auto-replies and bulk mail (``Auto-Submitted``, ``Precedence: bulk``...) are stored but never
answered and never reopen a ticket, so two robots cannot loop. Each message is stored in a
transaction of its own and only then marked read in the mailbox: a fetch killed midway reads
the unmarked rest again and the Message-ID check keeps every message exactly once.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from email.utils import getaddresses
from typing import TYPE_CHECKING, Any

from crm_workspace.errors import CrmError

from . import clock

if TYPE_CHECKING:
    from crm_workspace import Workspace

TAG = re.compile(r"\[#(\d+)\]")
MSGID = re.compile(r"<[^<>\s]+>")


@dataclass
class FetchReport:
    rows: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.rows if r["outcome"] == outcome)

    def __str__(self) -> str:
        parts = [f"{len(self.rows)} messages"]
        for outcome in ("new ticket", "joined", "flagged", "duplicate", "auto", "ignored"):
            if n := self.count(outcome):
                parts.append(f"{n} {outcome}")
        if self.errors:
            parts.append(f"{len(self.errors)} left unread: {self.errors[0]}")
        return ", ".join(parts)


def fetch(workspace: Workspace, spec: str | None = None, *, limit: int | None = None) -> FetchReport:
    """Read every unread message of the mailbox ``spec`` (default: setting ``service_mailbox``)."""
    from crm_workspace.services.mailbox import open_mailbox

    spec = spec or workspace.setting("service_mailbox", "")
    if not spec:
        raise CrmError("no mailbox to read: pass --mailbox maildir:/path or set service_mailbox")
    report = FetchReport()
    max_bytes = int(workspace.setting("service_message_max_bytes", 25_000_000))
    with open_mailbox(spec, max_bytes=max_bytes) as box:
        for item in box.unread(limit):
            try:
                row = store_message(workspace, item.message, size=item.size, too_big=item.too_big, key=item.key)
            except CrmError as error:
                report.errors.append(f"{item.key}: {error}")
                continue  # left unread: read again next time
            box.mark_done(item.key)
            report.rows.append(row)
    if any(r.get("acknowledge") for r in report.rows):
        from .outbound import send_pending

        try:
            send_pending(workspace)
        except CrmError as error:  # kept queued in the outbox: retried by the next delivery
            report.errors.append(f"acknowledgements not sent yet: {error}")
    return report


def message_id_of(message, key: str) -> str:
    found = MSGID.search(str(message.get("Message-ID", "") or ""))
    if found:
        return found.group(0)
    try:
        digest = hashlib.sha256(message.as_bytes()).hexdigest()[:32]
    except Exception:  # a message too broken to serialise: its key in the mailbox is what we have
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"<{digest}@no-message-id.invalid>"


def _participants(workspace: Workspace, ticket: dict) -> set[str]:
    found = set()
    if ticket.get("requester_id"):
        email = workspace.store.scalar("SELECT email FROM contacts WHERE id = ?", [ticket["requester_id"]])
        if email:
            found.add(email.lower())
    for row in workspace.query("SELECT sender, recipients FROM ticket_messages WHERE ticket_id = ?", [ticket["id"]]):
        for value in (row["sender"], row["recipients"]):
            for _, address in getaddresses([value or ""]):
                if "@" in address:
                    found.add(address.lower())
    return found


def _match(workspace: Workspace, message) -> tuple[dict | None, str]:
    ids = MSGID.findall(f"{message.get('In-Reply-To', '') or ''} {message.get('References', '') or ''}")
    if ids:
        marks = ",".join("?" * len(ids))
        rows = workspace.query(
            f"SELECT ticket_id FROM ticket_messages WHERE message_id IN ({marks}) ORDER BY created_at DESC, id DESC LIMIT 1",
            ids,
        )
        if rows:
            return workspace.store.get("tickets", rows[0]["ticket_id"]), "header"
    tag = TAG.search(str(message.get("Subject", "") or ""))
    if tag:
        rows = workspace.query("SELECT * FROM tickets WHERE id = ?", [int(tag.group(1))])
        if rows:
            return rows[0], "subject"
    return None, "new"


def _contact(workspace: Workspace, message, sender: str | None) -> tuple[int | None, bool]:
    if not sender:
        return None, False
    row = workspace.query("SELECT id FROM contacts WHERE email = ? COLLATE NOCASE", [sender])
    if row:
        return row[0]["id"], False
    name = next((n for n, a in getaddresses([str(message.get("From", "") or "")]) if a.lower() == sender and n), "")
    first, _, last = name.strip().partition(" ")
    contact = workspace.store.insert(
        "contacts",
        {
            "email": sender,
            "first_name": first or sender.split("@")[0],
            "last_name": last or None,
            "source": "service inbox",
        },
    )
    return contact["id"], True


def store_message(
    workspace: Workspace, message, *, size: int = 0, too_big: bool = False, key: str = ""
) -> dict[str, Any]:
    """Store one inbound message (one transaction); what happened, as a report row."""
    from crm_workspace.services.mailbox import addresses, attachments, is_auto_or_bulk, text_of

    from .outbound import own_addresses
    from .tickets import add_attachment, create_ticket, post_message

    store = workspace.store
    message_id = message_id_of(message, key)
    if store.scalar("SELECT ticket_id FROM ticket_messages WHERE message_id = ?", [message_id]) is not None:
        ticket_id = store.scalar("SELECT ticket_id FROM ticket_messages WHERE message_id = ?", [message_id])
        return {"message_id": message_id, "ticket_id": ticket_id, "placed_by": "duplicate", "outcome": "duplicate"}
    senders = addresses(message, "Reply-To") or addresses(message, "From")
    sender = senders[0] if senders else None
    if sender and sender in own_addresses(workspace):  # our own mail come back: never a ticket, never a loop
        return {"message_id": message_id, "ticket_id": None, "placed_by": "own address", "outcome": "ignored"}
    copied = addresses(message, "To", "Cc")
    auto = is_auto_or_bulk(message)
    subject = str(message.get("Subject", "") or "").strip() or "(no subject)"
    if too_big:
        body = f"(This e-mail was {size:,} bytes, over the limit: only its headers were kept.)"
    else:
        try:
            body = text_of(message)
        except Exception as error:  # a malformed body: keep the message, say why its text is missing
            body = f"(The text of this e-mail could not be read: {type(error).__name__}.)"
    limit = int(workspace.setting("service_attachment_max_bytes", 10_000_000))
    try:
        files = [] if too_big else attachments(message, limit)
    except Exception:
        files = []
    fields = {
        "sender": sender,
        "recipients": ", ".join(copied) or None,
        "subject": subject[:500],
        "message_id": message_id,
        "in_reply_to": (MSGID.findall(str(message.get("In-Reply-To", "") or "")) or [None])[0],
        "references": " ".join(MSGID.findall(str(message.get("References", "") or ""))) or None,
    }
    with store.transaction():
        contact_id, new_contact = _contact(workspace, message, sender)
        ticket, rule = _match(workspace, message)
        flag, candidate, outcome = None, None, "new ticket"
        if ticket is not None:
            if not sender or sender.lower() not in _participants(workspace, ticket):
                flag, candidate, rule = (
                    f"possible reply to #{ticket['id']} from another address",
                    ticket["id"],
                    f"{rule}-unverified",
                )
                ticket, outcome = None, "flagged"
            elif ticket["status"] == "closed":
                flag, candidate, rule = f"follow-up of closed #{ticket['id']}", ticket["id"], "follow-up"
                ticket = None
        if auto and ticket is None and flag is None:
            flag = "auto-reply or bulk mail"
        if ticket is None:
            ticket = create_ticket(
                workspace,
                subject=TAG.sub("", subject).strip()[:300] or "(no subject)",
                description=body[:20000],
                requester_id=contact_id,
                channel="email",
                priority="low" if auto else None,
                flag=flag,
                merge_candidate_id=candidate,
            )
        else:
            outcome = "joined"
        if auto:
            outcome = "auto" if outcome != "flagged" else outcome
        # an auto-reply never reopens: post it as inbound only when the ticket is still open anyway
        kind_status = ticket["status"] if auto else None
        stored = post_message(
            workspace,
            ticket["id"],
            kind="inbound",
            body_text=body,
            author_contact_id=contact_id,
            placed_by=rule + (" (auto-reply)" if auto else ""),
            set_status=kind_status,
            **fields,
        )
        for f in files:
            add_attachment(
                workspace,
                ticket["id"],
                stored["id"],
                filename=f.filename,
                data=f.data,
                content_type=f.content_type,
                size=f.size,
            )
        if too_big:
            add_attachment(
                workspace,
                ticket["id"],
                stored["id"],
                filename="original-message.eml",
                data=None,
                content_type="message/rfc822",
                size=size,
            )
        acknowledge = (
            outcome == "new ticket" and not auto and sender and bool(workspace.setting("service_acknowledge", True))
        )
        if acknowledge:
            _acknowledge(workspace, store.get("tickets", ticket["id"]))
    return {
        "message_id": message_id,
        "ticket_id": ticket["id"],
        "placed_by": rule,
        "outcome": outcome,
        "new_contact": new_contact,
        "acknowledge": acknowledge,
    }


def _acknowledge(workspace: Workspace, ticket: dict) -> None:
    """The "we got your request [#123]" e-mail: a reply by the system that is not a first response."""
    from .outbound import queue_reply

    text = (
        f"Thank you for writing to us. Your request has been received as ticket #{ticket['id']} "
        "and an agent will answer soon. Reply to this e-mail to add to it."
    )
    message = workspace.store.insert(
        "ticket_messages",
        {
            "ticket_id": ticket["id"],
            "kind": "public",
            "author": "system:acknowledgement",
            "body_text": text,
            "created_at": clock.now_iso(),
            "send_status": "queued",
        },
    )
    queue_reply(workspace, ticket, message)
