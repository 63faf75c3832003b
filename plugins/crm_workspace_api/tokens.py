"""Personal API tokens: made (shown once), listed, revoked, and checked on every request.

A token reads ``crm_<id>_<secret>``: the id finds its row, the SHA-256 of the secret
must match the stored hash (``hmac.compare_digest``). A request acts as the token's
user with the lesser of the token's role and the user's role *now*: a disabled or
removed user, a revoked or expired token are refused at the next request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from crm_workspace import CrmError, NotFound
from crm_workspace.data.fields import BadValue, normalize_date
from crm_workspace.data.store import utcnow

from .schema import TABLE

ROLES = ("admin", "member", "viewer")
PREFIX = "crm_"
_TOKEN = re.compile(r"crm_(\d{1,18})_([A-Za-z0-9_-]{20,100})")
_DURATION = re.compile(r"(\d+)\s*(h|d|w|y)")
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1), "y": timedelta(days=365)}
#: ``last_used_at`` is written at most this often per token (each write is audited).
LAST_USED_EVERY_S = 3600
#: The columns a listing shows (never the hash).
COLUMNS = ("id", "name", "user", "role", "expires_at", "revoked_at", "last_used_at", "created_by", "created_at")


class Unauthorized(CrmError):
    """No token, or one that is unknown, malformed, expired, revoked, or of a user without access."""


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_expiry(text: str | None, now: datetime | None = None) -> str | None:
    """``30d``, ``12h``, ``8w``, ``1y`` from now, or a date (the end of that day, UTC); None never expires."""
    if text is None or not str(text).strip() or str(text).strip().lower() == "never":
        return None
    now = now or datetime.now(UTC)
    text = str(text).strip().lower()
    if match := _DURATION.fullmatch(text):
        moment = now + int(match.group(1)) * _UNITS[match.group(2)]
    else:
        try:
            value = normalize_date(text)
        except BadValue as error:
            raise CrmError(f"--expires takes 30d, 12h, 8w, 1y or a date such as 2027-01-31, not {text!r}") from error
        if value is None:
            return None
        day = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if day.tzinfo is None:
            day = day.replace(tzinfo=UTC)
        moment = day + timedelta(days=1) if len(value) == 10 else day
    if moment <= now:
        raise CrmError(f"--expires {text} is in the past")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def create_token(
    workspace, name: str, role: str, user: str | None = None, expires: str | None = None
) -> tuple[dict, str]:
    """Make a token acting as ``user`` (default: the acting user) with at most ``role``; returns (row, token).

    The token itself is returned once and never stored; only admins may make tokens.
    """
    name = (name or "").strip()
    if not name:
        raise CrmError("a token needs a name (what it is for: 'website forms', 'accounting sync')")
    if role not in ROLES:
        raise CrmError(f"unknown role '{role}' (roles: {', '.join(ROLES)})")
    user = user or workspace.user
    found = workspace.store.query("SELECT role, active FROM users WHERE username = ?", [user])
    if not found or found[0]["active"] in (0, "0"):
        raise NotFound(f"'{user}' is not an active user of this workspace (crm users add {user})")
    secret = secrets.token_urlsafe(32)
    row = workspace.store.insert(
        TABLE,
        {
            "name": name,
            "token_hash": _hash(secret),
            "user": user,
            "role": role,
            "expires_at": parse_expiry(expires),
            "created_by": workspace.user,
        },
    )
    return {k: row.get(k) for k in COLUMNS}, f"{PREFIX}{row['id']}_{secret}"


def list_tokens(workspace, *, include_revoked: bool = True) -> list[dict]:
    where = "" if include_revoked else " WHERE revoked_at IS NULL"
    return workspace.store.query(f"SELECT {', '.join(COLUMNS)} FROM {TABLE}{where} ORDER BY id")


def revoke_token(workspace, name_or_id: str) -> dict:
    """Revoke the live token named ``name_or_id`` (or with that id); it is refused from the next request."""
    text = str(name_or_id).strip()
    rows = workspace.store.query(
        f"SELECT id, version FROM {TABLE} WHERE revoked_at IS NULL AND (name = ? OR CAST(id AS TEXT) = ?)"
        " ORDER BY name = ? DESC",
        [text, text, text],
    )
    if not rows:
        raise NotFound(f"no live token named or numbered '{text}' (crm tokens list)")
    row = workspace.store.update(TABLE, rows[0]["id"], {"revoked_at": utcnow()}, version=rows[0]["version"])
    return {k: row.get(k) for k in COLUMNS}


@dataclass(frozen=True)
class Caller:
    """Who a request acts as: the token and its user, with the role that applies now."""

    token_id: int
    token_name: str
    user: str
    role: str
    last_used_at: str | None


_RANK = {role: i for i, role in enumerate(ROLES)}


def authenticate(workspace, header: str | None) -> Caller:
    """The caller of an ``Authorization: Bearer <token>`` header, or ``Unauthorized`` saying why."""
    if not header:
        raise Unauthorized("missing token: send Authorization: Bearer <token> (crm tokens add NAME --role ROLE)")
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    match = _TOKEN.fullmatch(value.strip())
    if not match:
        raise Unauthorized("malformed token")
    token_id, secret = int(match.group(1)), match.group(2)
    store = workspace.store
    rows = store.query(
        f"SELECT t.id, t.name, t.user, t.role, t.expires_at, t.revoked_at, t.last_used_at, u.role AS user_role,"
        f" u.active FROM {TABLE} t LEFT JOIN users u ON u.username = t.user WHERE t.id = ?",
        [token_id],
    )
    stored = store.secret(TABLE, "token_hash", token_id) if rows else None
    if not rows or not stored or not hmac.compare_digest(stored, _hash(secret)):
        raise Unauthorized("invalid token")
    row = rows[0]
    if row["revoked_at"]:
        raise Unauthorized(f"token '{row['name']}' was revoked")
    if row["expires_at"] and row["expires_at"] <= utcnow():
        raise Unauthorized(f"token '{row['name']}' expired at {row['expires_at']}")
    if row["user_role"] is None or row["active"] in (0, "0"):
        raise Unauthorized(f"the user of token '{row['name']}' is disabled or no longer exists")
    role = max(row["role"], row["user_role"], key=lambda r: _RANK.get(r, len(ROLES)))
    return Caller(row["id"], row["name"], row["user"], role, row["last_used_at"])


class LastUsed:
    """Writes a token's ``last_used_at`` at most once an hour: through the Store (audited) but not per request."""

    def __init__(self, every: float = LAST_USED_EVERY_S):
        self.every = every
        self._written: dict[int, float] = {}
        self._lock = threading.Lock()

    def due(self, caller: Caller) -> bool:
        now = time.monotonic()
        with self._lock:
            last = self._written.get(caller.token_id)
            if last is not None and now - last < self.every:
                return False
            if last is None and caller.last_used_at:
                stored = datetime.fromisoformat(caller.last_used_at.replace("Z", "+00:00"))
                if (datetime.now(UTC) - stored).total_seconds() < self.every:
                    self._written[caller.token_id] = now
                    return False
            self._written[caller.token_id] = now
            return True

    def write(self, system_workspace, caller: Caller) -> None:
        """Record the use (as the system, since a viewer's token may not write); never fails a request."""
        try:
            rows = system_workspace.store.query(f"SELECT version FROM {TABLE} WHERE id = ?", [caller.token_id])
            if rows:
                system_workspace.store.update(
                    TABLE, caller.token_id, {"last_used_at": utcnow()}, version=rows[0]["version"]
                )
        except CrmError:
            pass
