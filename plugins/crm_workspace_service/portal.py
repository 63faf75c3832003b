"""The customer portal: a requester's tickets behind a signed link, ``/s/p/<token>``.

The token (``signing.sign``, purpose ``service-portal``, 30 days) names one contact: the page
lists that contact's tickets, a ticket shows its public thread (never internal notes) and a
form whose answer joins the thread as an inbound message (``placed_by`` "portal"). Attachments
are served as downloads only (``Content-Disposition: attachment``, a neutral content type,
``nosniff``), and only those of the contact's own tickets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from crm_workspace import Route
from crm_workspace.errors import CrmError, NotFound
from crm_workspace.services.http import RateLimiter, RouteHandler, escape
from crm_workspace.services.signing import BadSignature, public_url, sign, unsign
from crm_workspace.web.display import when_html

from .rules import safe_filename
from .tickets import attachment_bytes, post_message

if TYPE_CHECKING:
    from crm_workspace import Workspace

PURPOSE = "service-portal"
MAX_AGE = 30 * 86400
TOKEN = r"([A-Za-z0-9_.=-]+)"
per_client = RateLimiter(120)


def portal_link(workspace: Workspace, contact_id: int) -> str:
    """The signed link a requester opens to see their tickets (valid 30 days)."""
    return public_url(workspace, "/s/p/" + sign(workspace, PURPOSE, {"c": int(contact_id)}, max_age=MAX_AGE))


class PortalHandler(RouteHandler):
    max_body_bytes = 200_000

    def contact(self, token: str) -> dict | None:
        if not self.check_rate(per_client):
            return None
        try:
            data = unsign(self.workspace, PURPOSE, token)
        except BadSignature as error:
            self.write_page(
                "Link not valid", f"<p>{escape(str(error))}</p><p class='muted'>Ask us for a new link.</p>", status=400
            )
            return None
        rows = self.workspace.query("SELECT id, first_name, email FROM contacts WHERE id = ?", [data.get("c")])
        if not rows:
            self.write_page("Link not valid", "<p>This link no longer names anyone.</p>", status=404)
            return None
        return rows[0]

    def ticket(self, contact: dict, ticket_id: str) -> dict:
        rows = self.workspace.query(
            "SELECT * FROM tickets WHERE id = ? AND requester_id = ?", [int(ticket_id), contact["id"]]
        )
        if not rows:
            raise NotFound("no such ticket of yours")
        return rows[0]


class TicketList(PortalHandler):
    def get(self, token: str) -> None:
        contact = self.contact(token)
        if contact is None:
            return
        rows = self.workspace.query(
            "SELECT id, subject, status, created_at FROM tickets WHERE requester_id = ? ORDER BY is_open DESC, id DESC LIMIT 100",
            [contact["id"]],
        )
        items = "".join(
            f"<li><a href='/s/p/{escape(token)}/{int(r['id'])}'>#{int(r['id'])} {escape(r['subject'])}</a>"
            f" <span class='muted'>{escape(r['status'])} · {when_html(r['created_at'])}</span></li>"
            for r in rows
        )
        name = escape(contact["first_name"] or contact["email"] or "")
        self.write_page(
            "Your requests", f"<p>Hello {name}.</p><ul class='tickets'>{items or '<li>No requests yet.</li>'}</ul>"
        )


class TicketPage(PortalHandler):
    def get(self, token: str, ticket_id: str) -> None:
        contact = self.contact(token)
        if contact is None:
            return
        ticket = self.ticket(contact, ticket_id)
        messages = self.workspace.query(
            "SELECT id, kind, author, body_text, created_at FROM ticket_messages WHERE ticket_id = ? AND kind != 'note'"
            " ORDER BY created_at, id",
            [ticket["id"]],
        )
        files = self.workspace.query(
            "SELECT id, filename, size FROM ticket_attachments WHERE ticket_id = ? AND too_big = 0 ORDER BY id",
            [ticket["id"]],
        )
        thread = "".join(
            f"<div class='message {escape(m['kind'])}'><p class='muted'>{'You' if m['kind'] == 'inbound' else 'Support'}"
            f" · {when_html(m['created_at'])}</p>"
            f"<p style='white-space:pre-wrap'>{escape(m['body_text'] or '')}</p></div>"
            for m in messages
        )
        links = "".join(
            f"<li><a href='/s/p/{escape(token)}/a/{int(f['id'])}'>{escape(f['filename'])}</a> <span class='muted'>{int(f['size']):,} bytes</span></li>"
            for f in files
        )
        form = (
            f"<form method='post' action='/s/p/{escape(token)}/{int(ticket['id'])}'><label for='body'>Your answer</label>"
            "<textarea id='body' name='body' rows='5' required></textarea><button type='submit'>Send</button></form>"
            if ticket["status"] != "closed"
            else "<p class='muted'>This request is closed; write to us again to open a new one.</p>"
        )
        self.write_page(
            f"#{int(ticket['id'])} {ticket['subject']}",
            f"<p class='muted'>Status: {escape(ticket['status'])} · <a href='/s/p/{escape(token)}'>all your requests</a></p>"
            f"{thread}{('<ul>' + links + '</ul>') if links else ''}{form}",
        )

    def post(self, token: str, ticket_id: str) -> None:
        contact = self.contact(token)
        if contact is None:
            return
        ticket = self.ticket(contact, ticket_id)
        body = (self.get_body_argument("body", "") or "").strip()
        if not body:
            raise CrmError("write something before sending")
        if ticket["status"] == "closed":
            raise CrmError("this request is closed")
        post_message(
            self.workspace,
            ticket["id"],
            kind="inbound",
            body_text=body[:20000],
            author_contact_id=contact["id"],
            sender=contact["email"],
            placed_by="portal",
        )
        self.redirect(f"/s/p/{token}/{int(ticket['id'])}", status=303)


class Download(PortalHandler):
    def get(self, token: str, attachment_id: str) -> None:
        contact = self.contact(token)
        if contact is None:
            return
        row, data = attachment_bytes(self.workspace, int(attachment_id))
        self.ticket(contact, str(row["ticket_id"]))  # the contact's own tickets only
        send_file(self, row["filename"], data)


def send_file(handler: RouteHandler, filename: str, data: bytes) -> None:
    """Answer bytes as a download, never shown inline: attachment disposition, a neutral type, nosniff."""
    name = safe_filename(filename)
    ascii_name = name.encode("ascii", "replace").decode().replace("?", "_")
    handler.set_header("Content-Type", "application/octet-stream")
    handler.set_header("Content-Disposition", f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}")
    handler.set_header("X-Content-Type-Options", "nosniff")
    handler.set_header("Content-Security-Policy", "default-src 'none'; sandbox")
    handler.finish(data)


def routes() -> list[Route]:
    return [
        Route(f"/s/p/{TOKEN}", TicketList),
        Route(rf"/s/p/{TOKEN}/([0-9]+)", TicketPage),
        Route(rf"/s/p/{TOKEN}/a/([0-9]+)", Download),
    ]
