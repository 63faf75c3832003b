"""What every mailbox reader shares: the item it yields, its error, and parsing (see services/mailbox.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser, BytesParser
from typing import Protocol

from crm_workspace.errors import CrmError

#: Messages bigger than this are yielded headers-only unless a box is opened with another limit.
MAX_BYTES = 25 * 1024 * 1024
#: At most this much of a too-big message is read looking for the end of its headers.
HEADER_BYTES = 256 * 1024
_PARSER = BytesParser(_class=EmailMessage, policy=policy.default)
_HEADERS = BytesHeaderParser(_class=EmailMessage, policy=policy.default)


class MailboxError(CrmError):
    """A mailbox that cannot be opened or read (missing folder, refused login, bad spec)."""


@dataclass
class Item:
    """One unread message: its key in the box, the message, its size in bytes, and whether it is headers-only."""

    key: str
    message: EmailMessage
    size: int
    too_big: bool = False


class Mailbox(Protocol):
    """What ``open_mailbox`` returns: a Maildir or an IMAP folder."""

    max_bytes: int

    def unread(self, limit: int | None = None) -> Iterator[Item]: ...
    def mark_done(self, key: str) -> None: ...
    def close(self) -> None: ...


#: Multiparts nested deeper than this are no mail a person wrote: the message is read headers-only.
MAX_NESTING = 30


def parse(data: bytes) -> EmailMessage:
    """An ``EmailMessage`` from the bytes of a message (RFC 5322).

    A message nested too deep to be real (thousands of multiparts inside each other
    crash the standard parser with ``RecursionError``, and every later ``walk()``)
    is read headers-only, so one hostile message can never block a mailbox.
    """
    try:
        message = _PARSER.parsebytes(data)
    except RecursionError:
        return headers_only(data[:65536])
    if _too_deep(message):
        return headers_only(data[:65536])
    return message


def _too_deep(message: EmailMessage) -> bool:
    """Whether ``message`` nests multiparts more than ``MAX_NESTING`` deep (walked without recursion)."""
    stack = [(message, 0)]
    while stack:
        part, depth = stack.pop()
        if depth > MAX_NESTING:
            return True
        payload = part.get_payload() if part.is_multipart() else None
        if isinstance(payload, list):
            stack.extend((child, depth + 1) for child in payload)
    return False


def headers_only(data: bytes) -> EmailMessage:
    """A message of just the headers found in ``data`` (the start of a message)."""
    end = re.search(rb"\r?\n\r?\n", data)
    return _HEADERS.parsebytes(data[: end.end()] if end else data)
