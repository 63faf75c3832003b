"""Bounces: a refusal at send time (the outbox's permanent failures) and delivery reports read from a mailbox.

Classified by the status code: ``5.x.x`` is a hard bounce (the address is suppressed at
once), ``4.x.x`` a soft one (counted; the address is suppressed after
``marketing_soft_bounce_limit`` of them). A suppressed address never receives a
campaign again. A reply whose subject asks to unsubscribe (the ``mailto:`` of
``List-Unsubscribe``) withdraws the sender's consent. Nothing is marked read in the
mailbox before what it said is stored.
"""

from __future__ import annotations

import re
from email.message import EmailMessage
from email.utils import parseaddr
from typing import TYPE_CHECKING, Any

from crm_workspace import Setting
from crm_workspace.core_rules import record_consent
from crm_workspace.data.store import utcnow

from .core import open_mailbox
from .tracking import record_event

if TYPE_CHECKING:
    from crm_workspace import Workspace

_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_CAMPAIGN_KEY = re.compile(r"^campaign:(\d+):(\d+)$")


def _limit(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100:
        raise ValueError(f"must be a whole number from 1 to 100, not {value!r}")
    return value


def _mailbox(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a Maildir path or an imap[s]://user@host/folder address")
    return value.strip()


SETTINGS = [
    Setting("marketing_soft_bounce_limit", _limit, 3, doc="Soft bounces after which an address is no longer mailed."),
    Setting(
        "marketing_bounce_mailbox",
        _mailbox,
        "",
        doc="Where delivery reports arrive (a Maildir path or imap[s]://user@host/folder); read by crm marketing run.",
    ),
]


def classify(status: str | None, action: str | None = None) -> str | None:
    """``"hard"`` for 5.x.x, ``"soft"`` for 4.x.x (or a delayed report), None for a delivered one."""
    action = (action or "").strip().lower()
    if action in ("delivered", "relayed", "expanded"):
        return None
    found = _STATUS.search(status or "")
    if found:
        return {"5": "hard", "4": "soft"}.get(found.group(1))
    if action == "delayed":
        return "soft"
    return "hard" if action == "failed" else None


def bounce(
    workspace: Workspace,
    email: str,
    kind: str,
    detail: str,
    *,
    contact_id: int | None = None,
    campaign_id: int | None = None,
    outbox_id: int | None = None,
) -> dict[str, Any]:
    """Record a hard or soft bounce of ``email``; suppress it when hard or soft too often. The suppression row."""
    email = email.strip().lower()
    store = workspace.store
    limit = int(workspace.setting("marketing_soft_bounce_limit", 3) or 3)
    with store.transaction():
        if contact_id is None:
            contact_id = store.scalar("SELECT id FROM contacts WHERE email = ? COLLATE NOCASE AND email != ''", [email])
        rows = store.query("SELECT * FROM marketing_suppressions WHERE email = ?", [email])
        soft = (rows[0]["soft_bounces"] if rows else 0) + (kind == "soft")
        suppressed = kind == "hard" or soft >= limit or bool(rows and rows[0]["suppressed"])
        reason = "hard bounce" if kind == "hard" else f"{soft} soft bounce{'s' * (soft != 1)}"
        changes = {"contact_id": contact_id, "soft_bounces": soft, "suppressed": int(suppressed), "at": utcnow()}
        if not rows or not rows[0]["suppressed"]:
            changes.update(reason=reason, detail=detail[:500])
        if rows:
            row = store.update("marketing_suppressions", rows[0]["id"], changes)
        else:
            row = store.insert("marketing_suppressions", {"email": email, **changes})
        store.insert(
            "marketing_events",
            {
                "at": utcnow(),
                "contact_id": contact_id,
                "campaign_id": campaign_id,
                "kind": "bounce",
                "machine": 0,
                "reason": f"{kind}: {detail}"[:500],
                "outbox_id": outbox_id,
                "url": None,
            },
        )
    return row


def sync_refusals(workspace: Workspace) -> int:
    """Bounces for the marketing outbox rows the SMTP server refused for good, each once; how many."""
    rows = workspace.query(
        "SELECT id, key, recipient, contact_id, ref_id, last_error, permanent FROM mail_outbox"
        " WHERE plugin = 'marketing' AND status = 'failed'"
        " AND id NOT IN (SELECT outbox_id FROM marketing_events WHERE kind = 'bounce' AND outbox_id IS NOT NULL)"
    )
    for row in rows:
        campaign = int(row["ref_id"]) if str(row["ref_id"] or "").isdigit() else None
        kind = "hard" if row["permanent"] else "soft"
        for email in [e.strip() for e in (row["recipient"] or "").split(",") if "@" in e]:
            bounce(
                workspace,
                email,
                kind,
                row["last_error"] or "refused",
                contact_id=row["contact_id"],
                campaign_id=campaign,
                outbox_id=row["id"],
            )
    return len(rows)


# --------------------------------------------------------- delivery reports
def _report_fields(message: EmailMessage) -> list[dict[str, str]]:
    """Per-recipient fields of a delivery report (RFC 3464), or [] if the message is not one."""
    found = []
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        for block in blocks if isinstance(blocks, list) else []:
            fields = {k.lower(): str(v) for k, v in block.items()}
            if "final-recipient" in fields or "original-recipient" in fields:
                found.append(fields)
    return found


def _original(message: EmailMessage) -> tuple[str | None, str | None]:
    """The Message-ID and X-Campaign of the returned message, when the report includes it."""
    for part in message.walk():
        if part.get_content_type() in ("message/rfc822", "text/rfc822-headers"):
            inner = part.get_payload()
            inner = inner[0] if isinstance(inner, list) and inner else inner
            if isinstance(inner, str):
                from email import message_from_string

                inner = message_from_string(inner)
            if hasattr(inner, "get"):
                return inner.get("Message-ID"), inner.get("X-Campaign")
    return None, None


def read_report(workspace: Workspace, message: EmailMessage) -> list[dict[str, Any]]:
    """The bounces a delivery report states, recorded; [] when it is not a report (or only says delivered)."""
    done = []
    message_id, _campaign = _original(message)
    ledger = workspace.query("SELECT id, key FROM mail_outbox WHERE message_id = ?", [message_id]) if message_id else []
    for fields in _report_fields(message):
        kind = classify(fields.get("status"), fields.get("action"))
        if kind is None:
            continue
        email = (fields.get("final-recipient") or fields.get("original-recipient") or "").split(";")[-1].strip()
        if "@" not in email:
            continue
        campaign_id = contact_id = outbox_id = None
        if ledger:
            outbox_id = ledger[0]["id"]
            key = _CAMPAIGN_KEY.match(ledger[0]["key"] or "")
            if key:
                campaign_id, contact_id = int(key.group(1)), int(key.group(2))
        detail = f"{fields.get('status', '')} {fields.get('diagnostic-code', '')}".strip()
        bounce(workspace, email, kind, detail, contact_id=contact_id, campaign_id=campaign_id, outbox_id=outbox_id)
        done.append({"email": email.lower(), "kind": kind, "detail": detail, "outbox_id": outbox_id})
    return done


def _unsubscribe_request(workspace: Workspace, message: EmailMessage) -> int | None:
    """A reply to the ``mailto:`` of List-Unsubscribe: withdraw the sender's consent; the contact, or None."""
    if not str(message.get("Subject", "")).strip().lower().startswith("unsubscribe"):
        return None
    sender = parseaddr(str(message.get("From", "")))[1].lower()
    contact_id = (
        workspace.store.scalar("SELECT id FROM contacts WHERE email = ? COLLATE NOCASE AND email != ''", [sender])
        if sender
        else None
    )
    if contact_id is None:
        return None
    if workspace.store.get("contacts", contact_id).get("marketing_consent") != 0:
        with workspace.store.transaction():
            record_consent(workspace, contact_id, False, source="unsubscribe e-mail")
            record_event(workspace, "unsubscribe", campaign_id=None, contact_id=contact_id, machine="")
    return contact_id


def process_mailbox(workspace: Workspace, spec: str | None = None, limit: int | None = None) -> dict[str, int]:
    """Read the bounce mailbox: delivery reports and unsubscribe requests, each marked read once stored."""
    spec = spec or workspace.setting("marketing_bounce_mailbox", "")
    counts = {"reports": 0, "hard": 0, "soft": 0, "unsubscribes": 0, "other": 0}
    if not spec:
        return counts
    with open_mailbox(spec) as box:
        for item in box.unread(limit=limit):
            if _report_fields(item.message):
                counts["reports"] += 1
                for entry in read_report(workspace, item.message):
                    counts[entry["kind"]] += 1
            elif not item.too_big and _unsubscribe_request(workspace, item.message) is not None:
                counts["unsubscribes"] += 1
            else:
                counts["other"] += 1
                continue  # not ours to consume: left unread
            box.mark_done(item.key)
    return counts
