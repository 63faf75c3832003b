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


def parse(data: bytes) -> EmailMessage:
    """An ``EmailMessage`` from the bytes of a message (RFC 5322)."""
    return _PARSER.parsebytes(data)


def headers_only(data: bytes) -> EmailMessage:
    """A message of just the headers found in ``data`` (the start of a message)."""
    end = re.search(rb"\r?\n\r?\n", data)
    return _HEADERS.parsebytes(data[: end.end()] if end else data)
