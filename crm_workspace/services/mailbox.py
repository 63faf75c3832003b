"""Reading mail: a Maildir or an IMAP folder, and the parts of a message a module needs.

``open_mailbox(spec)`` takes ``"maildir:/path"`` (or a plain path) or
``"imap://user@host/folder"`` / ``"imaps://user@host:993/folder"`` (password from
``$CRM_IMAP_PASSWORD``, never the database). ``box.unread()`` yields ``Item``s
oldest first; nothing is marked read until the caller has stored the message and
calls ``box.mark_done(item.key)``, so a crash reads it again rather than losing it.
A message over ``max_bytes`` is yielded with its headers only (``too_big``), so
one huge message never blocks the ones behind it.

``text_of`` gives a message's plain text (an HTML-only body sanitised with nh3,
scripts and styles dropped), ``addresses`` the addresses of some headers,
``attachments`` the attached files, ``is_auto_or_bulk`` whether a message is an
auto-reply, a bounce or list mail (never answer those automatically). The IMAP
reader lives in crm_workspace/services/imap.py, what both share in mailread.py.
"""

from __future__ import annotations

import html as html_lib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path

from crm_workspace.services.imap import ImapBox
from crm_workspace.services.mailread import (
    HEADER_BYTES,
    MAX_BYTES,
    Item,
    Mailbox,
    MailboxError,
    headers_only,
    parse,
)


@dataclass
class Attachment:
    """An attached file: ``data`` is None when it is over the size limit (``size`` says how big)."""

    filename: str
    content_type: str
    size: int
    data: bytes | None


def open_mailbox(spec: str, *, max_bytes: int = MAX_BYTES) -> Mailbox:
    """The mailbox ``spec`` names: ``maildir:/path`` or a path (Maildir), ``imap[s]://user@host[:port]/folder``."""
    spec = str(spec).strip()
    if spec.startswith(("imap://", "imaps://")):
        return ImapBox.from_spec(spec, max_bytes=max_bytes)
    path = spec.removeprefix("maildir:")
    if not path:
        raise MailboxError("a mailbox needs a Maildir path or an imap://user@host/folder address")
    return MaildirBox(path, max_bytes=max_bytes)


# ------------------------------------------------------------------ Maildir
class MaildirBox:
    """A Maildir (as written by ``mailbox.Maildir``, Postfix, Dovecot): ``new/`` and ``cur/`` files.

    Unread: every message in ``new/`` and those in ``cur/`` without the seen flag
    (``S``). ``mark_done`` moves a message to ``cur/`` with ``S`` added (the Maildir way
    of marking it read), an atomic rename.
    """

    def __init__(self, path: str | os.PathLike, *, max_bytes: int = MAX_BYTES):
        self.path = Path(path).expanduser()
        self.max_bytes = max_bytes
        if not all((self.path / sub).is_dir() for sub in ("new", "cur", "tmp")):
            raise MailboxError(f"{self.path} is not a Maildir (it needs new/, cur/ and tmp/ folders)")

    def _unread_files(self) -> list[tuple[float, str, Path]]:
        found = []
        for sub in ("new", "cur"):
            with os.scandir(self.path / sub) as entries:
                for entry in entries:
                    if entry.name.startswith(".") or not entry.is_file():
                        continue
                    key, _, info = entry.name.partition(":")
                    if sub == "cur" and "S" in info.partition(",")[2]:
                        continue
                    found.append((entry.stat().st_mtime, key, Path(entry.path)))
        return sorted(found)

    def unread(self, limit: int | None = None) -> Iterator[Item]:
        """Unread messages, oldest first (at most ``limit``); too-big ones headers-only."""
        for count, (_, key, path) in enumerate(self._unread_files()):
            if limit is not None and count >= limit:
                return
            try:
                size = path.stat().st_size
                with path.open("rb") as file:
                    if size > self.max_bytes:
                        item = Item(key, headers_only(file.read(HEADER_BYTES)), size, too_big=True)
                    else:
                        item = Item(key, parse(file.read()), size)
            except FileNotFoundError:  # another reader took it meanwhile
                continue
            yield item

    def _find(self, key: str) -> Path | None:
        for sub in ("new", "cur"):
            for path in (self.path / sub).glob(f"{glob_escape(key)}*"):
                if path.name == key or path.name.startswith(key + ":"):
                    return path
        return None

    def mark_done(self, key: str) -> None:
        """Mark ``key`` read (moved to ``cur/`` with the ``S`` flag); call it once the message is stored."""
        path = self._find(key)
        if path is None:
            raise MailboxError(f"no message {key!r} in {self.path}")
        _, _, info = path.name.partition(":")
        flags = info.partition(",")[2] if info.startswith("2,") else ""
        if path.parent.name == "cur" and "S" in flags:
            return
        os.replace(path, self.path / "cur" / f"{key}:2,{''.join(sorted(set(flags) | {'S'}))}")

    def close(self) -> None:
        """Nothing to release (a Maildir holds no connection)."""

    def __enter__(self) -> MaildirBox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


# ------------------------------------------------------------ message parts
def _decoded(part: EmailMessage) -> str:
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, AssertionError, KeyError):  # unknown charset, broken encoding
        payload = part.get_payload(decode=True) or b""
        return payload.decode("utf-8", "replace")
    return content if isinstance(content, str) else content.decode("utf-8", "replace")


_BLOCK = re.compile(r"<\s*(br|/p|/div|/li|/tr|/h[1-6]|p|div|li|tr|h[1-6])\b[^>]*>", re.I)


def html_to_text(markup: str) -> str:
    """Plain text of untrusted HTML: scripts, styles and every tag removed by nh3, entities decoded."""
    import nh3

    markup = _BLOCK.sub("\n", markup)
    cleaned = nh3.clean(markup, tags=set(), clean_content_tags={"script", "style", "title"}, attributes={})
    text = html_lib.unescape(cleaned).replace("\xa0", " ")
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def text_of(message: EmailMessage) -> str:
    """The message's text: its text/plain body, else its HTML body as sanitised plain text."""
    body = message.get_body(preferencelist=("plain", "html"))
    if body is None:
        return ""
    text = _decoded(body)
    if body.get_content_subtype() == "html":
        return html_to_text(text)
    return text.strip()


def addresses(message: EmailMessage, *headers: str) -> list[str]:
    """The addresses in ``headers`` (default From), lower-cased, each once, in order."""
    values = [str(value) for name in headers or ("From",) for value in message.get_all(name, [])]
    seen: dict[str, None] = {}
    for _, address in getaddresses(values):
        if "@" in address:
            seen.setdefault(address.strip().lower(), None)
    return list(seen)


def attachments(message: EmailMessage, max_bytes: int = MAX_BYTES) -> list[Attachment]:
    """The attached files; one over ``max_bytes`` comes without its data."""
    found = []
    for part in message.iter_attachments():
        if part.is_multipart():
            continue
        data = part.get_payload(decode=True) or b""
        found.append(
            Attachment(
                filename=part.get_filename() or "attachment",
                content_type=part.get_content_type(),
                size=len(data),
                data=data if len(data) <= max_bytes else None,
            )
        )
    return found


_AUTO_FROM = re.compile(r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply|bounces?)([+.-].*)?@", re.I)


def is_auto_or_bulk(message: EmailMessage) -> bool:
    """Whether ``message`` is an auto-reply, a bounce or bulk/list mail (never to be answered automatically)."""

    def header(name: str) -> str:
        return str(message.get(name, "") or "").strip().lower()

    if header("Auto-Submitted") not in ("", "no"):
        return True
    if header("Precedence") in ("bulk", "list", "junk", "auto_reply"):
        return True
    if any(name in message for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Reply", "List-Id", "List-Unsubscribe")):
        return True
    suppress = {token.strip() for token in header("X-Auto-Response-Suppress").split(",")}
    if suppress & {"all", "oof", "autoreply"}:
        return True
    if header("Return-Path") == "<>" or message.get_content_type() == "multipart/report":
        return True
    return any(_AUTO_FROM.match(address) for address in addresses(message, "From", "Sender"))
