"""Login for the served app, backed by the workspace's users table.

``crm serve`` always installs this login; it is *required* as soon as any user
(even a disabled one: fail closed) has a password (``crm users add NAME`` or ``crm users passwd NAME``), asked at
every request, so a password given while the server runs takes effect at once (and
open anonymous sessions lose access within a second, crm_workspace/web/session.py).

- Passwords are verified against the argon2 hash in ``users.password_hash``; an
  unknown, disabled or password-less name is verified against a dummy hash, so a
  failed login takes as long whether the name exists or not.
- A login starts a **server-side session**: a random token in a signed cookie, its
  SHA-256 in ``login_sessions`` with an expiry (``$CRM_SESSION_HOURS``, default 12).
  Every request (page and websocket) needs a live, unrevoked session of a user who
  is still active with the password of the login (a new or cleared password ends
  every session); **logout revokes** it, so a replayed cookie is refused.
- **Lockout**: every attempt is first counted as a failure, per username and per
  address, in ``login_failures`` (shared by every server process); from the 5th
  failure in a row for a name (the 20th for an address), further attempts are refused
  for a delay that doubles each time (``$CRM_LOGIN_LOCK_SECONDS``, default 5 s, at
  most 15 min). A success clears the name's count. 40 parallel guesses at one name
  therefore get 5 tries, not 40; spread over names, 20.
- Cookies are HttpOnly and SameSite=Lax, and Secure behind https
  (``X-Forwarded-Proto: https`` from a proxy). The cookie secret is generated once per
  workspace in ``<db>.cookie-secret`` (mode 0600, outside the database).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import secrets
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from crm_workspace.data import permissions
from crm_workspace.services import signing

log = logging.getLogger(__name__)

SESSION_HOURS = float(os.environ.get("CRM_SESSION_HOURS", "12"))
SESSION_COOKIE = "crm_session"
FAILED_LOGIN_PAUSE_S = 0.5
LOCK_AFTER_FAILURES = 5
#: An address (an office behind one NAT) may hold many users: it is locked later.
ADDRESS_LOCK_AFTER_FAILURES = 20
LOCK_BASE_S = float(os.environ.get("CRM_LOGIN_LOCK_SECONDS", "5"))
LOCK_MAX_S = 900.0
#: A failure count older than this (and not locked) starts again from zero.
FAILURE_MEMORY_S = 900.0
#: What ``get_user`` answers while no login is required (truthy: Panel lets the request in).
OPEN_ACCESS = "-"


def cookie_secret(db_path: str | Path) -> str:
    """The workspace's cookie-signing secret, created on first use (file beside the database)."""
    return signing.secret_beside(db_path, "cookie-secret")


def _connect(db_path: str, *, write: bool = False) -> sqlite3.Connection:
    uri = f"file:{db_path}" if write else f"file:{db_path}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=10, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 10000")
    return conn


#: Read-only connections each thread keeps open, one per workspace file (the tests serve many files).
READERS_KEPT = 4
_readers = threading.local()


def _reader(db_path: str) -> sqlite3.Connection:
    """A read-only connection to ``db_path`` that this thread keeps open.

    Every open page asks once a second whether a login is now required (or its session
    still live): a new connection each time parsed the whole schema again, most of the
    question's cost (a tenth of a busy server's time). A replaced file (a restore) gets a
    new connection, and so does a forked process (``crm serve --num-procs``: SQLite
    connections must not cross a fork; the parent's is left alone, not closed). An idle
    one holds no lock: its statements end with each answer.
    """
    kept: dict[str, tuple[tuple[int, int], sqlite3.Connection]] = _readers.__dict__.setdefault("kept", {})
    try:
        owner = (os.getpid(), os.stat(db_path).st_ino)
    except OSError:
        return _connect(db_path)  # no file: sqlite3's own "unable to open" error, as before
    found = kept.pop(db_path, None)
    if found is not None and found[0] != owner:
        if found[0][0] == owner[0]:
            found[1].close()
        found = None
    if found is None:
        while len(kept) >= READERS_KEPT:
            (pid, _inode), conn = kept.pop(next(iter(kept)))  # the least recently used
            if pid == owner[0]:
                conn.close()
        found = (owner, _connect(db_path))
    kept[db_path] = found
    return found[1]


# ---------------------------------------------------------------- passwords
_dummy_hash: str | None = None


def _dummy() -> str:
    """An argon2 hash of nothing anyone knows: verified for unknown names, so they cost the same time."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = permissions.hash_password(secrets.token_urlsafe(16))
    return _dummy_hash


def check_login(db_path: str, username: str, password: str) -> bool:
    """True if ``username`` is an active user whose password hash matches ``password``."""
    if not username or not password:
        return False
    stored = permissions.password_hash_of(_reader(db_path), username)  # the Store's one query of a hash
    matches = permissions.verify_password(stored or _dummy(), password)
    return matches and stored is not None


def may_log_in(db_path: str, username: str) -> bool:
    return permissions.password_hash_of(_reader(db_path), username) is not None


def login_required(db_path: str) -> bool:
    """True when the served app must ask for a login (some user has a password), now."""
    if not Path(db_path).is_file():
        return False
    return permissions.login_enabled(_reader(db_path))


# ----------------------------------------------------------------- sessions
def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _fingerprint(password_hash: str) -> str:
    return _token_hash(password_hash)[:32]


def start_session(db_path: str, username: str) -> str:
    """A new session of ``username``: its token for the cookie (the table keeps only a hash)."""
    token = secrets.token_urlsafe(32)
    now = time.time()
    conn = _connect(db_path, write=True)
    try:
        stored = conn.execute("SELECT password_hash FROM users WHERE username = ?", [username]).fetchone()
        conn.execute("DELETE FROM login_sessions WHERE expires_at < ?", [now - 86_400])
        conn.execute(
            "INSERT INTO login_sessions (token_hash, username, password_fingerprint, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?)",
            [_token_hash(token), username, _fingerprint(stored[0] or ""), now, now + SESSION_HOURS * 3600],
        )
    finally:
        conn.close()
    return token


def session_user(db_path: str, token: str | None) -> str | None:
    """The user of a live session: unexpired, not revoked, the user active with the password of the login."""
    if not token:
        return None
    try:
        row = (
            _reader(db_path)
            .execute(
                "SELECT s.username, s.password_fingerprint, u.password_hash FROM login_sessions s"
                " JOIN users u ON u.username = s.username AND coalesce(u.active, 1) != 0"
                " WHERE s.token_hash = ? AND s.revoked_at IS NULL AND s.expires_at > ?",
                [_token_hash(token), time.time()],
            )
            .fetchone()
        )
    except sqlite3.OperationalError:  # before the migration: no sessions at all
        return None
    if not row or not row[2] or row[1] != _fingerprint(row[2]):
        return None  # removed, disabled, password changed or cleared since the login
    return row[0]


def session_active(db_path: str, token: str | None, username: str) -> bool:
    """True while ``token`` is a live session of ``username``."""
    return session_user(db_path, token) == username


def revoke_session(db_path: str, token: str | None) -> None:
    """End a session on the server: its cookie, replayed, is refused from now on."""
    if not token:
        return
    conn = _connect(db_path, write=True)
    try:
        conn.execute("UPDATE login_sessions SET revoked_at = ? WHERE token_hash = ?", [time.time(), _token_hash(token)])
    finally:
        conn.close()


# ------------------------------------------------------------------ lockout
def _lock_seconds(key: str, failures: int) -> float:
    threshold = ADDRESS_LOCK_AFTER_FAILURES if key.startswith("address:") else LOCK_AFTER_FAILURES
    if failures < threshold:
        return 0.0
    return min(LOCK_MAX_S, LOCK_BASE_S * 2 ** (failures - threshold))


def failure_keys(username: str, address: str) -> list[str]:
    """The ``login_failures`` keys of a name and an address: hashed, since a mistyped name may be a password."""
    return [f"user:{_token_hash(username.casefold())[:32]}", f"address:{_token_hash(address)[:32]}"]


def reserve_attempt(db_path: str, username: str, address: str) -> float:
    """0 if this login attempt may be checked (it counts as a failure until it succeeds), else seconds to wait.

    Counting before checking is what stops parallel guesses: the 6th of 40 concurrent
    attempts already sees the lock the 5th set.
    """
    now = time.time()
    keys = failure_keys(username, address)
    conn = _connect(db_path, write=True)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("DELETE FROM login_failures WHERE max(last_at, locked_until) < ?", [now - FAILURE_MEMORY_S])
        rows = {
            key: conn.execute(
                "SELECT failures, last_at, locked_until FROM login_failures WHERE key = ?", [key]
            ).fetchone()
            for key in keys
        }
        wait = max((row[2] - now for row in rows.values() if row and row[2]), default=0.0)
        if wait <= 0:
            for key, row in rows.items():
                failures = row[0] if row and now < max(row[1], row[2] or 0) + FAILURE_MEMORY_S else 0
                failures += 1
                lock = _lock_seconds(key, failures)
                conn.execute(
                    "INSERT OR REPLACE INTO login_failures (key, failures, last_at, locked_until) VALUES (?, ?, ?, ?)",
                    [key, failures, now, now + lock if lock else 0],
                )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        conn.close()
    return max(wait, 0.0)


def login_succeeded(db_path: str, username: str, address: str) -> None:
    """Forget the username's failures, and take this attempt back from the address's count."""
    user_key, address_key = failure_keys(username, address)
    conn = _connect(db_path, write=True)
    try:
        conn.execute("DELETE FROM login_failures WHERE key = ?", [user_key])
        conn.execute(
            "UPDATE login_failures SET failures = max(failures - 1, 0),"
            " locked_until = CASE WHEN failures - 1 < ? THEN 0 ELSE locked_until END WHERE key = ?",
            [ADDRESS_LOCK_AFTER_FAILURES, address_key],
        )
    finally:
        conn.close()


# ------------------------------------------------------------------- Panel
def _is_https(request: Any) -> bool:
    return request.protocol == "https" or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


def make_provider(db_path: str) -> Any:
    """A Panel auth provider checking logins and sessions against the tables of ``db_path``."""
    from panel.auth import BasicAuthProvider, BasicLoginHandler, LogoutHandler
    from panel.config import config

    config.oauth_expiry = SESSION_HOURS / 24  # days: the signed cookies' max age
    db_path = str(Path(db_path).resolve())

    class CookieDefaults:
        """Every cookie these handlers set is HttpOnly and SameSite=Lax, and Secure behind https."""

        def set_cookie(self, name: str, value: Any, **kwargs: Any) -> None:
            kwargs.setdefault("httponly", True)
            kwargs.setdefault("samesite", "Lax")
            if _is_https(self.request):
                kwargs.setdefault("secure", True)
            super().set_cookie(name, value, **kwargs)

    class CrmLoginHandler(CookieDefaults, BasicLoginHandler):
        async def post(self) -> None:
            """Check the password off the event loop, after the lockout said this attempt may be checked."""
            import tornado.escape
            from panel.auth import _validate_next_url
            from panel.io.state import state

            username = self.get_argument("username", "")
            password = self.get_argument("password", "")
            address = self.request.remote_ip or ""
            loop = asyncio.get_running_loop()
            wait = await loop.run_in_executor(None, reserve_attempt, db_path, username, address)
            if wait > 0:
                log.warning("login for %r from %s refused: locked for %.0f s", username[:64], address, wait)
                message = f"Too many failed logins: try again in {max(1, round(wait))} s."
                self.redirect(self.request.uri.split("?")[0] + "?error=" + tornado.escape.url_escape(message))
                return
            if await loop.run_in_executor(None, check_login, db_path, username, password):
                await loop.run_in_executor(None, login_succeeded, db_path, username, address)
                token = await loop.run_in_executor(None, start_session, db_path, username)
                self.set_current_user(username)
                self.set_secure_cookie(SESSION_COOKIE, token, expires_days=config.oauth_expiry, path=config.cookie_path)
                self.redirect(_validate_next_url(self.get_cookie("next_url", state.base_url)))
                return
            log.warning("failed login for %r from %s", username[:64], address)
            await asyncio.sleep(FAILED_LOGIN_PAUSE_S)  # slows guessing without blocking other sessions
            error = tornado.escape.url_escape("Invalid username or password!")
            self.redirect(self.request.uri.split("?")[0] + "?error=" + error)

    class CrmLogoutHandler(CookieDefaults, LogoutHandler):
        def get(self) -> None:
            """Revoke the session on the server, then clear the cookies (Panel's logout page)."""
            token = self.get_secure_cookie(SESSION_COOKIE, max_age_days=config.oauth_expiry)
            revoke_session(db_path, token.decode() if token else None)
            self.clear_cookie(SESSION_COOKIE, path=config.cookie_path)
            super().get()

    class CrmAuthProvider(BasicAuthProvider):
        @property
        def login_handler(self):
            CrmLoginHandler._login_endpoint = self._login_endpoint
            CrmLoginHandler._login_template = self._login_template
            return CrmLoginHandler

        @property
        def logout_handler(self):
            CrmLogoutHandler._login_endpoint = self._login_endpoint
            return CrmLogoutHandler

        @property
        def get_user(self):
            base = super().get_user

            def get_user(request_handler):
                if not login_required(db_path):  # asked at every request: no restart needed
                    return OPEN_ACCESS
                user = request_handler.get_secure_cookie("user", max_age_days=config.oauth_expiry)
                token = request_handler.get_secure_cookie(SESSION_COOKIE, max_age_days=config.oauth_expiry)
                if not user or not token or not session_active(db_path, token.decode(), user.decode()):
                    return None  # no session, logged out, expired, or the user removed/disabled since
                return base(request_handler)

            return get_user

    return CrmAuthProvider()


def session_token(cookies: dict[str, Any]) -> str | None:
    """The session token in a served session's cookies (``pn.state.cookies``), if validly signed."""
    from panel.config import config
    from tornado.web import decode_signed_value

    raw = cookies.get(SESSION_COOKIE)
    if not raw or not config.cookie_secret:
        return None
    value = decode_signed_value(config.cookie_secret, SESSION_COOKIE, raw, max_age_days=config.oauth_expiry)
    return value.decode() if value else None
