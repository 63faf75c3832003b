"""What a message in the logging mailbox is about: who, when, what, and which way.

Three shapes arrive: a message a team member sent with the mailbox in BCC (log it as
it is), one forwarded as an attachment (``message/rfc822``: log the attached original),
and one forwarded inline (log the original whose headers are in the body's forwarded
block: Gmail's ``---------- Forwarded message ---------``, Apple Mail's ``Begin
forwarded message:``, Outlook's ``-----Original Message-----``, Thunderbird's
``-------- Forwarded Message --------``). Pure functions over ``EmailMessage``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime

from crm_workspace.services.mailbox import text_of

MAX_TEXT = 20_000
_MARKER = re.compile(
    r"^[>\s]*(?:-{2,}\s*(?:Forwarded message|Original Message|Forwarded Message)\s*-{2,}|Begin forwarded message:)\s*$",
    re.I | re.M,
)
_FIELD = re.compile(r"^[>\s]*(From|To|Cc|Date|Sent|Subject)\s*:\s*(.*)$", re.I)
_PREFIX = re.compile(r"^\s*((re|fwd?|aw|wg|tr)\s*:\s*)+", re.I)


@dataclass
class Logged:
    """The message to file: the original one when forwarded."""

    message_id: str
    subject: str
    sender: tuple[str, str]  # (name, address)
    people: list[tuple[str, str]] = field(default_factory=list)  # (name, address): From, To, Cc, each once
    sent_at: str = ""
    text: str = ""
    forwarded_by: str = ""  # the address that forwarded it, or ''


def _pairs(values: list[str]) -> list[tuple[str, str]]:
    cleaned = [re.sub(r"\[mailto:([^\]]+)\]", r"<\1>", v) for v in values]  # Outlook's "Ana [mailto:a@x]"
    found: dict[str, str] = {}
    for name, address in getaddresses(cleaned):
        address = address.strip().strip("<>").lower()
        if "@" in address and " " not in address and address not in found:
            found[address] = " ".join(name.split())[:200]
    return [(name, address) for address, name in found.items()]


def _header_pairs(message: EmailMessage, *names: str) -> list[tuple[str, str]]:
    values: list[str] = []
    for name in names:
        for value in message.get_all(name, []) or []:
            values.append(str(value))
    return _pairs(values)


def _when(text: str | None) -> str:
    if text:
        try:
            moment = parsedate_to_datetime(str(text))
        except (TypeError, ValueError, IndexError):
            moment = None
        if moment is not None:
            moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
            return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return ""


def message_id_of(message: EmailMessage, raw_hint: str = "") -> str:
    """The Message-ID, or a stable stand-in from the headers when a message has none."""
    value = str(message.get("Message-ID", "") or "").strip()
    if value:
        return value[:500]
    basis = "\n".join(f"{k}:{v}" for k, v in message.items()) + raw_hint
    return f"<maillog-{hashlib.sha256(basis.encode('utf-8', 'replace')).hexdigest()[:32]}@no-message-id>"


def clean_subject(subject: str) -> str:
    return " ".join(_PREFIX.sub("", subject or "").split())[:300] or "(no subject)"


def _attached_original(message: EmailMessage) -> EmailMessage | None:
    for part in message.walk():
        if part.get_content_type() == "message/rfc822":
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(inner, EmailMessage) and inner.get("From"):
                return inner
    return None


def _inline_original(text: str) -> tuple[dict[str, str], str] | None:
    match = _MARKER.search(text)
    if match is None:
        return None
    fields: dict[str, str] = {}
    lines = text[match.end() :].lstrip("\r\n").splitlines()
    body_start = len(lines)
    for number, line in enumerate(lines):
        found = _FIELD.match(line)
        if found:
            key = found.group(1).lower()
            fields[{"sent": "date"}.get(key, key)] = found.group(2).strip()
            continue
        if fields and line.strip(" >") == "":
            body_start = number + 1
            break
        if fields and line.startswith((" ", "\t")):  # a folded header line
            continue
        if fields:
            body_start = number
            break
    if "from" not in fields:
        return None
    body = "\n".join(re.sub(r"^> ?", "", line) for line in lines[body_start:])
    return fields, body.strip()


def read_message(message: EmailMessage, too_big: bool = False) -> Logged:
    """The message to log: the outer one, or the original it forwards."""
    outer_from = _header_pairs(message, "From")
    text = "" if too_big else text_of(message)
    inner = None if too_big else _attached_original(message)
    if inner is not None:
        people = _header_pairs(inner, "From", "To", "Cc")
        return Logged(
            message_id=message_id_of(inner),
            subject=clean_subject(str(inner.get("Subject", "") or "")),
            sender=(_header_pairs(inner, "From") or [("", "")])[0],
            people=people,
            sent_at=_when(inner.get("Date")) or _when(message.get("Date")),
            text=text_of(inner)[:MAX_TEXT],
            forwarded_by=outer_from[0][1] if outer_from else "",
        )
    inline = None if too_big else _inline_original(text)
    if inline is not None:
        fields, body = inline
        people = _pairs([fields.get("from", ""), fields.get("to", ""), fields.get("cc", "")])
        return Logged(
            message_id=message_id_of(message),
            subject=clean_subject(fields.get("subject") or str(message.get("Subject", "") or "")),
            sender=(_pairs([fields["from"]]) or [("", "")])[0],
            people=people,
            sent_at=_when(fields.get("date")) or _when(message.get("Date")),
            text=body[:MAX_TEXT],
            forwarded_by=outer_from[0][1] if outer_from else "",
        )
    if too_big:
        text = "(the message was too big to read: only its headers were logged)"
    return Logged(
        message_id=message_id_of(message),
        subject=clean_subject(str(message.get("Subject", "") or "")),
        sender=(outer_from or [("", "")])[0],
        people=_header_pairs(message, "From", "To", "Cc"),
        sent_at=_when(message.get("Date")),
        text=text[:MAX_TEXT],
    )


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
