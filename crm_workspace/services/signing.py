"""Signed tokens for links that leave the app: unsubscribe, tracking, double opt-in, feeds.

``sign(workspace, purpose, data)`` gives a URL-safe token carrying ``data`` (a JSON
object) and its issue time, authenticated by HMAC-SHA256 over the purpose, the data and
the times; ``unsign(workspace, purpose, token)`` gives the data back or raises
``BadSignature`` for a token that was changed, made for another purpose, or has expired.
The data is readable by whoever holds the token (it is signed, not encrypted): put ids in
it, never secrets.

The key is a random secret kept in a file beside the database (``<db>.signing-secret``,
mode 0600), never in the database: a copied or exported database signs nothing, and
deleting the file revokes every token at once. The served app's cookie secret lives the
same way (``secret_beside``, used by crm_workspace/web/auth.py).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Any

from crm_workspace.core_rules import DEFAULT_PUBLIC_URL
from crm_workspace.errors import CrmError

#: Tokens longer than this are refused unread (a link never needs more).
MAX_TOKEN_CHARS = 8192
#: Seconds a token's issue time may lie in the future (clocks of two servers disagree).
CLOCK_SKEW_S = 300

_lock = threading.Lock()
#: database path -> (when its file was last checked, the file's inode, mtime and size, the key)
_keys: dict[str, tuple[float, tuple[int, int, int], bytes]] = {}


class BadSignature(CrmError):
    """A signed token that was changed, made for another purpose, or has expired.

    ``reason`` is ``"invalid"`` (tampered, wrong purpose, or another workspace's),
    ``"expired"`` or ``"malformed"`` (not a token at all).
    """

    def __init__(self, message: str, reason: str = "invalid"):
        super().__init__(message)
        self.reason = reason


# ------------------------------------------------------------------ secrets
def secret_beside(db_path: str | os.PathLike, suffix: str) -> str:
    """The secret kept in ``<db>.<suffix>`` (mode 0600), created on first use.

    Created atomically (written aside, then linked in place), so two processes
    starting at once agree on one secret; a file holding fewer than 32 characters
    is replaced.
    """
    path = Path(f"{Path(db_path).resolve()}.{suffix}")
    with _lock:
        found = _read_secret(path)
        if found:
            return found
        secret = secrets.token_urlsafe(48)
        aside = path.with_name(f"{path.name}.{secrets.token_hex(6)}.tmp")
        fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(secret)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(aside, path)  # fails if another process made it first: use theirs
            except FileExistsError:
                found = _read_secret(path)
                if found:
                    return found
                os.replace(aside, path)  # the one there is too short to be a secret
            except OSError:  # a file system without hard links
                os.replace(aside, path)
        finally:
            aside.unlink(missing_ok=True)
        return secret


def _read_secret(path: Path) -> str | None:
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return secret if len(secret) >= 32 else None


def _key(workspace: Any) -> bytes:
    """The workspace's signing key, re-read within a second of its file changing (deleting it revokes every token)."""
    now = time.monotonic()
    cached = _keys.get(workspace.path)
    if cached is not None and now - cached[0] < 1.0:
        return cached[2]
    secret_path = f"{Path(workspace.path).resolve()}.signing-secret"
    try:
        stat = os.stat(secret_path)
        identity = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
    except FileNotFoundError:
        identity = None
    if cached is None or identity is None or cached[1] != identity:
        key = secret_beside(workspace.path, "signing-secret").encode()
        stat = os.stat(secret_path)
        cached = (now, (stat.st_ino, stat.st_mtime_ns, stat.st_size), key)
    _keys[workspace.path] = (now, cached[1], cached[2])
    return cached[2]


def forget_keys() -> None:
    """Drop the keys cached in this process (they are re-read anyway when their file changes)."""
    _keys.clear()


# ------------------------------------------------------------------- tokens
def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, purpose: str, body: str) -> bytes:
    return hmac.new(key, purpose.encode("utf-8") + b"\0" + body.encode("ascii"), hashlib.sha256).digest()


def _check_purpose(purpose: str) -> None:
    if not isinstance(purpose, str) or not purpose or "\0" in purpose:
        raise CrmError(f"a signed token needs a purpose (a non-empty name such as 'unsubscribe'), not {purpose!r}")


def sign(workspace: Any, purpose: str, data: dict, *, max_age: int | None = None, now: float | None = None) -> str:
    """A URL-safe token carrying ``data`` for ``purpose``, valid ``max_age`` seconds (None: no expiry).

    ``data`` must be a JSON object (a dict of str keys); it is readable by anyone
    holding the token, so carry ids, never secrets. ``now`` (seconds since the epoch)
    replaces the clock in tests.
    """
    _check_purpose(purpose)
    if not isinstance(data, dict):
        raise CrmError(f"signed data must be a dict, not {type(data).__name__}")
    if max_age is not None and (isinstance(max_age, bool) or not isinstance(max_age, int) or max_age <= 0):
        raise CrmError(f"max_age must be a positive number of seconds, not {max_age!r}")
    issued = int(time.time() if now is None else now)
    expires = issued + max_age if max_age is not None else None
    try:
        payload = json.dumps([data, issued, expires], separators=(",", ":"), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise CrmError(f"signed data must be plain JSON values: {error}") from error
    body = _b64(payload.encode("utf-8"))
    return f"{body}.{_b64(_mac(_key(workspace), purpose, body))}"


def unsign(workspace: Any, purpose: str, token: str, *, max_age: int | None = None, now: float | None = None) -> dict:
    """The data ``token`` carries for ``purpose``; ``BadSignature`` if changed, for another purpose or expired.

    ``max_age`` (seconds) also refuses a token issued longer ago, whatever it was
    signed with. The signature is checked before anything in the token is read.
    """
    _check_purpose(purpose)
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
        raise BadSignature("not a valid signed token", "malformed")
    body, mac = token.split(".")
    try:
        given = _unb64(mac)
    except (binascii.Error, ValueError):
        raise BadSignature("not a valid signed token", "malformed") from None
    if not body.isascii() or not hmac.compare_digest(given, _mac(_key(workspace), purpose, body)):
        raise BadSignature("this link is not valid: it was changed, or made for something else")
    try:
        data, issued, expires = json.loads(_unb64(body))
    except (binascii.Error, ValueError, TypeError):
        raise BadSignature("not a valid signed token", "malformed") from None
    moment = time.time() if now is None else now
    if issued > moment + CLOCK_SKEW_S:
        raise BadSignature("this link is not valid yet (issued in the future)")
    if (expires is not None and moment > expires) or (max_age is not None and moment > issued + max_age):
        raise BadSignature("this link has expired", "expired")
    return data


def public_url(workspace: Any, path: str = "") -> str:
    """The absolute address of ``path`` on the served app, from the ``public_url`` setting.

    ``public_url(ws, "/t/abc")`` → ``https://crm.example.com/t/abc`` (default base
    ``http://localhost:5006``; an admin sets it with ``crm settings`` or
    ``workspace.set_setting("public_url", ...)``).
    """
    base = str(workspace.setting("public_url", DEFAULT_PUBLIC_URL) or DEFAULT_PUBLIC_URL).rstrip("/")
    return f"{base}/{str(path).lstrip('/')}" if path else base
