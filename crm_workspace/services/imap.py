"""An IMAP folder as a mailbox (``open_mailbox("imaps://user@host/INBOX")``), with imaplib.

Messages are fetched with ``BODY.PEEK`` so reading never sets ``\\Seen``: only
``mark_done`` does, once the caller has stored the message. Keys are UIDs
(stable across sessions while the folder's UIDVALIDITY holds). A message over
``max_bytes`` (its ``RFC822.SIZE``) is fetched headers-only. The password comes
from ``$CRM_IMAP_PASSWORD`` only.
"""

from __future__ import annotations

import contextlib
import imaplib
import os
import re
import ssl
from collections.abc import Iterator
from urllib.parse import unquote, urlsplit

from crm_workspace.services.mailread import MAX_BYTES, Item, MailboxError, headers_only, parse

PASSWORD_ENV = "CRM_IMAP_PASSWORD"
TIMEOUT_S = 60.0
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


class ImapBox:
    """One IMAP folder; connects on first use, ``close()`` (or ``with``) logs out."""

    def __init__(
        self,
        host: str,
        user: str,
        folder: str = "INBOX",
        *,
        port: int | None = None,
        secure: bool = True,
        password: str | None = None,
        max_bytes: int = MAX_BYTES,
    ):
        self.host, self.user, self.folder = host, user, folder or "INBOX"
        self.secure = secure
        self.port = port or (993 if secure else 143)
        self.password = password
        self.max_bytes = max_bytes
        self._imap: imaplib.IMAP4 | None = None

    @classmethod
    def from_spec(cls, spec: str, *, max_bytes: int = MAX_BYTES) -> ImapBox:
        """``imap[s]://user@host[:port]/folder``; the password from ``$CRM_IMAP_PASSWORD``."""
        parts = urlsplit(spec)
        if not parts.hostname or not parts.username:
            raise MailboxError(f"an IMAP mailbox is imaps://user@host/folder, not {spec!r}")
        try:
            port = parts.port
        except ValueError:
            raise MailboxError(f"bad port in {spec!r}") from None
        return cls(
            parts.hostname,
            unquote(parts.username),
            unquote(parts.path.lstrip("/")) or "INBOX",
            port=port,
            secure=parts.scheme == "imaps",
            password=unquote(parts.password) if parts.password else os.environ.get(PASSWORD_ENV),
            max_bytes=max_bytes,
        )

    @property
    def address(self) -> str:
        return f"{'imaps' if self.secure else 'imap'}://{self.user}@{self.host}:{self.port}/{self.folder}"

    def _connect(self) -> imaplib.IMAP4:
        if self._imap is not None:
            return self._imap
        if not self.password:
            raise MailboxError(f"no password for {self.address}: set ${PASSWORD_ENV}")
        try:
            if self.secure:
                imap: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                    self.host, self.port, ssl_context=ssl.create_default_context(), timeout=TIMEOUT_S
                )
            else:
                imap = imaplib.IMAP4(self.host, self.port, timeout=TIMEOUT_S)
            imap.login(self.user, self.password)
            status, _ = imap.select(_quote(self.folder))
        except imaplib.IMAP4.error as error:
            raise MailboxError(f"the IMAP server {self.host} refused {self.user!r}: {error}") from error
        except (TimeoutError, OSError) as error:
            raise MailboxError(f"cannot reach the IMAP server {self.host}:{self.port} ({error})") from error
        if status != "OK":
            with contextlib.suppress(imaplib.IMAP4.error, OSError):
                imap.logout()
            raise MailboxError(f"no folder {self.folder!r} on {self.host}")
        self._imap = imap
        return imap

    def _uid(self, *args: str) -> list:
        imap = self._connect()
        try:
            status, data = imap.uid(*args)
        except (imaplib.IMAP4.error, OSError) as error:
            raise MailboxError(f"IMAP {args[0]} failed on {self.host}: {error}") from error
        if status != "OK":
            raise MailboxError(f"IMAP {args[0]} failed on {self.host}: {data!r}")
        return data

    def unread(self, limit: int | None = None) -> Iterator[Item]:
        """Unseen messages, oldest first, fetched without setting ``\\Seen``."""
        found = self._uid("SEARCH", "UNSEEN")
        uids = (found[0] or b"").split() if found else []
        for count, uid in enumerate(uids):
            if limit is not None and count >= limit:
                return
            key = uid.decode()
            sized = self._uid("FETCH", key, "(RFC822.SIZE)")
            match = _SIZE.search(b" ".join(x if isinstance(x, bytes) else b"" for x in sized))
            size = int(match.group(1)) if match else 0
            too_big = size > self.max_bytes
            data = self._uid("FETCH", key, "(BODY.PEEK[HEADER])" if too_big else "(BODY.PEEK[])")
            raw = next((part[1] for part in data if isinstance(part, tuple)), None)
            if raw is None:  # expunged meanwhile
                continue
            yield Item(key, headers_only(raw) if too_big else parse(raw), size or len(raw), too_big=too_big)

    def mark_done(self, key: str) -> None:
        """Set ``\\Seen`` on the message ``key`` (a UID); call it once the message is stored."""
        self._uid("STORE", key, "+FLAGS", "(\\Seen)")

    def close(self) -> None:
        if self._imap is not None:
            with contextlib.suppress(imaplib.IMAP4.error, OSError):
                self._imap.logout()
            self._imap = None

    def __enter__(self) -> ImapBox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'
