"""The ticket page's read-only parts as escaped HTML: the thread and the requester at a glance."""

from __future__ import annotations

import json

from crm_workspace import Workspace
from crm_workspace.web.display import label, when_html
from crm_workspace.web.icons import svg

from .. import context
from ..portal import portal_link
from .common import E, ticket_link

# How a message found its ticket, in words; the routine rules (a new ticket, a reply matched by its
# mail headers) say nothing: only the ones worth a second look are shown.
_PLACED = {
    "subject": "matched by subject tag",
    "header-unverified": "claims an existing ticket (sender not on it): in the merge queue",
    "follow-up": "reply to a closed ticket: opened as a follow-up",
    "portal": "sent from the customer portal",
}


def placed_text(placed_by: str | None, ticket_id: int | None = None) -> str:
    """The placing rule for people: "" for the routine ones, a short phrase otherwise."""
    rule = placed_by or ""
    auto = rule.endswith(" (auto-reply)")
    rule = rule.removesuffix(" (auto-reply)")
    text = _PLACED.get(rule, "")
    if rule == "subject" and ticket_id:
        text += f" [#{int(ticket_id)}]"
    if auto:
        text = "auto-reply (not answered)" + (f", {text}" if text else "")
    return text


def thread_html(messages: list[dict], description: str | None) -> str:
    parts = []
    if description and not any(m["kind"] == "inbound" for m in messages):
        parts.append(
            f'<div class="svc-msg inbound"><div class="meta">description</div><pre>{E(description)}</pre></div>'
        )
    for m in messages:
        who = m["author"] or m["sender"] or "requester"
        label = {"public": "reply", "note": "internal note", "inbound": "from the requester"}[m["kind"]]
        status = ""
        if m["kind"] == "public" and m["send_status"] and m["send_status"] != "sent":
            status = f' · <span class="svc-unsent" data-send="{E(m["send_status"])}">{E(m["send_status"])} (not sent yet)</span>'
        placed = placed_text(m.get("placed_by"), m.get("ticket_id"))
        placed = f' · <span class="svc-placed">{E(placed)}</span>' if placed else ""
        files = json.loads(m.get("files") or "[]")
        names = "".join(
            f"<div class='meta'>{svg('paperclip', 14)} {E(f['filename'])} ({f['size']:,} bytes{', too big: not kept' if f['too_big'] else ''})</div>"
            for f in files
        )
        parts.append(
            f'<div class="svc-msg {m["kind"]}" data-message="{int(m["id"])}"><div class="meta">{E(label)} · {E(who)} · {when_html(m["created_at"])}{status}{placed}</div>'
            f"<pre>{E(m['body_text'] or '')}</pre>{names}</div>"
        )
    return "".join(parts) or "<p>No messages yet.</p>"


def side_html(ws: Workspace, t: dict) -> str:
    """The requester at a glance: who, lifecycle stage, portal link, other tickets, deals; the flag."""
    person = context.requester(ws, t)
    parts = ["<h4>Requester</h4>"]
    if person:
        name = (
            f"{person['first_name'] or ''} {person['last_name'] or ''}".strip() or person["email"] or f"#{person['id']}"
        )
        parts.append(f'<div><a href="?page=contacts&amp;id={int(person["id"])}">{E(name)}</a></div>')
        parts.append(f"<div>{E(person['email'] or '')}</div><div>{E(person['organization'] or '')}</div>")
        parts.append(
            f"<div>Lifecycle stage: <b class='svc-stage'>{E(label(person['lifecycle_stage']) or '—')}</b></div>"
        )
        link = portal_link(ws, person["id"])
        parts.append(
            f"<div><a class='svc-portal' href='{E(link)}' target='_blank' rel='noopener'>Customer portal link</a></div>"
        )
        if person.get("source") == "service inbox":
            parts.append("<div class='svc-presence'>New contact (created from an e-mail)</div>")
    else:
        parts.append("<div>No requester</div>")
    others = context.other_tickets(ws, t)
    parts.append(
        "<h4>Other tickets</h4>"
        + (
            "".join(
                f"<div>{ticket_link(o['id'], '#' + str(o['id']) + ' ' + o['subject'])} · {E(o['status'])}</div>"
                for o in others
            )
            or "<div>None</div>"
        )
    )
    deals = context.deals(ws, t)
    parts.append(
        "<h4>Deals</h4>"
        + (
            "".join(f"<div>{E(d['title'])} · {E(d['stage'] or '')} · {E(d['status'] or '')}</div>" for d in deals)
            or "<div>None</div>"
        )
    )
    if t.get("flag"):
        parts.append(
            f"<h4>Flag</h4><div class='svc-presence'>{E(t['flag'])}"
            + (
                f" (see {ticket_link(t['merge_candidate_id'], '#' + str(t['merge_candidate_id']))})"
                if t.get("merge_candidate_id")
                else ""
            )
            + "</div>"
        )
    return "".join(parts)
