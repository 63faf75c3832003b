"""Sending mail over SMTP: one Mailer per workspace, one connection per batch.

``Mailer.from_workspace(ws)`` reads the core's mail settings (``smtp_host``,
``smtp_port``, ``smtp_security``, ``smtp_user``, ``mail_from``; declared in
crm_workspace/data/mail_settings.py) and the password from ``$CRM_SMTP_PASSWORD``,
never from the database. ``mailer.send(message)`` sends one message on its own
connection; ``with mailer.connection() as conn: conn.send(message)`` keeps one
SMTP session open for a batch (the outbox sends through it).

Every failure is a ``MailError``: ``permanent`` is true for a 5xx refusal (a
hard bounce: resending will not help), false for a 4xx answer or a server that
cannot be reached (try again later); ``recipient`` names the refused address
when the server said which.
"""

from __future__ import annotations

import contextlib
import os
import smtplib
import socket
import ssl
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid, parseaddr
from typing import Any

from crm_workspace.errors import CrmError

PASSWORD_ENV = "CRM_SMTP_PASSWORD"
#: The policy messages are built with: CRLF lines and 7-bit bodies (quoted-printable or
#: base64 for non-ASCII text), so the stored text is what any SMTP server accepts.
POLICY = policy.SMTP.clone(cte_type="7bit")
TIMEOUT_S = 30.0


class MailError(CrmError):
    """A message could not be sent; ``permanent`` (5xx: do not retry), ``recipient`` when known."""

    def __init__(self, message: str, *, permanent: bool = False, recipient: str | None = None, code: int | None = None):
        super().__init__(message)
        self.permanent = permanent
        self.recipient = recipient
        self.code = code


# ------------------------------------------------------------------ messages
def _addresses(value: str | Sequence[str] | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return ", ".join(value)


def domain_of(address: str) -> str:
    """The domain of an address (``"CRM <crm@example.com>"`` → ``"example.com"``); ``"localhost"`` if none."""
    return parseaddr(address or "")[1].rpartition("@")[2] or "localhost"


def make_message(
    *,
    to: str | Sequence[str],
    subject: str,
    text: str,
    html: str | None = None,
    sender: str | None = None,
    reply_to: str | None = None,
    headers: Mapping[str, str] | None = None,
    in_reply_to: str | None = None,
    references: str | Sequence[str] | None = None,
) -> EmailMessage:
    """A message ready to send: text (and HTML as multipart/alternative), Message-ID and Date set.

    The Message-ID's domain is the sender's (``mail_from(workspace)`` is the usual
    sender); without a sender, ``From`` is filled in when the message is sent or
    queued, and the Message-ID says ``localhost``.
    """
    message = EmailMessage(policy=POLICY)
    fields: list[tuple[str, Any]] = [
        ("From", sender),
        ("To", _addresses(to)),
        ("Reply-To", reply_to),
        ("Subject", subject),
        ("Date", formatdate(localtime=False, usegmt=True)),
        ("Message-ID", make_msgid(domain=domain_of(sender or ""))),
        ("In-Reply-To", in_reply_to),
        ("References", references if isinstance(references, str | None) else " ".join(references)),
        *(headers or {}).items(),
    ]
    for name, value in fields:
        if value in (None, "") and name != "Subject":
            continue
        if name in message:
            del message[name]
        try:
            message[name] = value
        except (ValueError, TypeError) as error:  # a line break in a header: an injection attempt or a bad template
            raise MailError(f"bad {name} header {str(value)[:80]!r}: {error}", permanent=True) from None
    bad = [address for address in recipients(message) if "@" not in address]
    if bad or not recipients(message):
        raise MailError(f"not an email address to send to: {', '.join(bad) or repr(to)}", permanent=True)
    message.set_content(text if text.endswith("\n") else text + "\n")
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


def recipients(message: EmailMessage) -> list[str]:
    """The envelope's recipients: every address in To, Cc and Bcc."""
    found = getaddresses([str(v) for name in ("To", "Cc", "Bcc") for v in message.get_all(name, [])])
    return [address for _, address in found if address]


def as_text(message: EmailMessage) -> str:
    """The message as it goes on the wire (without Bcc), 7-bit text with CRLF lines."""
    if "Bcc" in message:
        message = _copy(message)
        del message["Bcc"]
    return message.as_string(policy=POLICY)


def _copy(message: EmailMessage) -> EmailMessage:
    from email import message_from_bytes

    return message_from_bytes(message.as_bytes(policy=POLICY), _class=EmailMessage, policy=POLICY)


def mail_from(workspace: Any) -> str:
    """The workspace's sender (setting ``mail_from``, default ``crm@localhost``)."""
    return workspace.setting("mail_from", "crm@localhost") or "crm@localhost"


# -------------------------------------------------------------------- errors
def _refusal(error: smtplib.SMTPException, recipient: str | None) -> MailError:
    """A MailError for what the server answered (5xx permanent, anything else temporary)."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        (address, (code, reply)), *_ = error.recipients.items()
        return _coded(code, reply, address, f"refused the recipient {address}")
    if isinstance(error, smtplib.SMTPSenderRefused):
        return _coded(error.smtp_code, error.smtp_error, recipient, f"refused the sender {error.sender}")
    if isinstance(error, smtplib.SMTPResponseException):
        return _coded(error.smtp_code, error.smtp_error, recipient, "refused the message")
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return MailError(f"the SMTP server closed the connection: {error}", recipient=recipient)
    return MailError(f"SMTP error: {error}", recipient=recipient)


def _coded(code: int, reply: bytes | str, recipient: str | None, what: str) -> MailError:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    permanent = 500 <= int(code) < 600
    kind = "permanently" if permanent else "for now"
    return MailError(
        f"the SMTP server {what} {kind}: {code} {text}", permanent=permanent, recipient=recipient, code=code
    )


# -------------------------------------------------------------------- mailer
@dataclass
class Mailer:
    """Where and how to send: an SMTP server, its security, a login, the default sender."""

    host: str = "localhost"
    port: int = 25
    security: str = "none"  # none | starttls | ssl
    user: str = ""
    password: str | None = None
    sender: str = "crm@localhost"
    timeout: float = TIMEOUT_S

    @classmethod
    def from_workspace(cls, workspace: Any) -> Mailer:
        """The workspace's mail settings, and the password from ``$CRM_SMTP_PASSWORD``."""
        return cls(
            host=workspace.setting("smtp_host", "localhost") or "localhost",
            port=int(workspace.setting("smtp_port", 25) or 25),
            security=workspace.setting("smtp_security", "none") or "none",
            user=workspace.setting("smtp_user", "") or "",
            password=os.environ.get(PASSWORD_ENV) or None,
            sender=mail_from(workspace),
        )

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def send(self, message: EmailMessage) -> None:
        """Send one message on a connection of its own (``MailError`` when it was not accepted)."""
        with self.connection() as conn:
            conn.send(message)

    @contextlib.contextmanager
    def connection(self) -> Iterator[Connection]:
        """One SMTP session for a batch of messages, closed at the end of the block."""
        smtp = self._connect()
        try:
            yield Connection(self, smtp)
        finally:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                smtp.quit()
            with contextlib.suppress(OSError):
                smtp.close()

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context() if self.security in ("ssl", "starttls") else None
        try:
            if self.security == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            smtp.ehlo()
            if self.security == "starttls":
                smtp.starttls(context=context)
                smtp.ehlo()
            if self.user:
                if not self.password:
                    smtp.close()
                    raise MailError(f"smtp_user is {self.user!r} but ${PASSWORD_ENV} is not set: no password to log in")
                smtp.login(self.user, self.password)
        except smtplib.SMTPAuthenticationError as error:
            raise MailError(
                f"the SMTP server {self.address} refused the login of {self.user!r} "
                f"(check smtp_user and ${PASSWORD_ENV}): {error.smtp_code}",
                permanent=True,
            ) from error
        except smtplib.SMTPNotSupportedError as error:
            raise MailError(f"the SMTP server {self.address} does not support {self.security}: {error}") from error
        except smtplib.SMTPException as error:
            raise MailError(f"cannot talk to the SMTP server {self.address}: {_refusal(error, None)}") from error
        except ssl.SSLCertVerificationError as error:
            raise MailError(
                f"the SMTP server {self.address} has a certificate this machine does not trust "
                f"({error.verify_message}); nothing was sent"
            ) from error
        except (OSError, ssl.SSLError) as error:  # refused, unreachable, timeout, TLS failure
            reason = error.strerror or str(error) or type(error).__name__
            if isinstance(error, socket.timeout | TimeoutError):
                reason = f"no answer within {self.timeout:g} s"
            raise MailError(
                f"cannot reach the SMTP server {self.address} ({reason}); check smtp_host, smtp_port and smtp_security"
            ) from error
        return smtp


class Connection:
    """An open SMTP session (from ``mailer.connection()``): ``send`` as many messages as needed."""

    def __init__(self, mailer: Mailer, smtp: smtplib.SMTP):
        self.mailer = mailer
        self.smtp = smtp

    def send(self, message: EmailMessage) -> None:
        """Send ``message``; ``From`` defaults to the mailer's sender. ``MailError`` when refused."""
        if "From" not in message:
            message["From"] = self.mailer.sender
        to = recipients(message)
        if not to:
            raise MailError("the message has no recipient (To, Cc or Bcc)", permanent=True)
        self.send_raw(parseaddr(str(message["From"]))[1], to, as_text(message))

    def send_raw(self, sender: str, to: Iterable[str], text: str | bytes) -> None:
        """Send an already formatted message to the envelope recipients ``to`` (the outbox's path)."""
        to = list(to)
        data = text.encode("utf-8") if isinstance(text, str) else text
        try:  # a partial refusal returns the refused ones: the message still went out to the others
            self.smtp.sendmail(sender, to, data)
        except smtplib.SMTPException as error:
            raise _refusal(error, to[0] if len(to) == 1 else None) from error
        except OSError as error:
            raise MailError(f"lost the connection to the SMTP server {self.mailer.address}: {error}") from error
