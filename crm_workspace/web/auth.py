"""Login for the served app, backed by the workspace's users table.

When at least one active user has a password (``crm users add NAME`` or
``crm users passwd NAME``), ``crm serve`` requires a login: Panel's basic login
page (``/login``) and logout (``/logout``) with our own check — the password is
verified against the argon2 hash in ``users.password_hash``; clear passwords
are never stored or logged. The session is a signed, http-only cookie; its
secret is generated once per workspace and kept beside the database in
``<db>.cookie-secret`` (mode 0600, not in the database, so readers of the data
cannot forge sessions). Sessions expire after ``$CRM_SESSION_HOURS`` (default
12) hours, and every request re-checks that the user still exists, is active
and still has a password, so removing or deactivating a user ends their access.
``pn.state.user`` then names the session's user, who acts in the Store (roles
and the audit trail).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import sqlite3
from pathlib import Path
from typing import Any

from crm_workspace.data import permissions

log = logging.getLogger(__name__)

SESSION_HOURS = float(os.environ.get("CRM_SESSION_HOURS", "12"))
FAILED_LOGIN_PAUSE_S = 0.5


def cookie_secret(db_path: str | Path) -> str:
    """The workspace's cookie-signing secret, created on first use (file beside the database)."""
    path = Path(f"{Path(db_path).resolve()}.cookie-secret")
    if path.exists():
        secret = path.read_text(encoding="utf-8").strip()
        if len(secret) >= 32:
            return secret
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secret)
    return secret


def _connect(db_path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
    conn.execute("PRAGMA busy_timeout = 10000")
    return conn


def check_login(db_path: str, username: str, password: str) -> bool:
    """True if ``username`` is an active user whose password hash matches ``password``."""
    if not username or not password:
        return False
    conn = _connect(db_path)
    try:
        row = conn.execute(
            "SELECT password_hash FROM users WHERE username = ? AND coalesce(active, 1) != 0", [username]
        ).fetchone()
    finally:
        conn.close()
    return bool(row) and permissions.verify_password(row[0], password)


def may_log_in(db_path: str, username: str) -> bool:
    conn = _connect(db_path)
    try:
        row = conn.execute(
            "SELECT 1 FROM users WHERE username = ? AND coalesce(active, 1) != 0"
            " AND password_hash IS NOT NULL AND password_hash != ''",
            [username],
        ).fetchone()
    finally:
        conn.close()
    return row is not None


def login_required(db_path: str) -> bool:
    """True when the served app must ask for a login (some active user has a password)."""
    if not Path(db_path).is_file():
        return False
    conn = _connect(db_path)
    try:
        return permissions.login_enabled(conn)
    finally:
        conn.close()


def make_provider(db_path: str) -> Any:
    """A Panel auth provider checking logins against the users table of ``db_path``."""
    from panel.auth import BasicAuthProvider, BasicLoginHandler
    from panel.config import config

    config.oauth_expiry = SESSION_HOURS / 24  # days: the signed cookie's max age
    db_path = str(Path(db_path).resolve())

    class CrmLoginHandler(BasicLoginHandler):
        async def post(self):
            """Panel's login POST, with the argon2 check off the event loop and a pause after a failure."""
            import tornado.escape
            from panel.auth import _validate_next_url
            from panel.io.state import state

            username = self.get_argument("username", "")
            password = self.get_argument("password", "")
            loop = asyncio.get_running_loop()
            if await loop.run_in_executor(None, check_login, db_path, username, password):
                self.set_current_user(username)
                self.redirect(_validate_next_url(self.get_cookie("next_url", state.base_url)))
                return
            log.warning("failed login for %r from %s", username[:64], self.request.remote_ip)
            await asyncio.sleep(FAILED_LOGIN_PAUSE_S)  # slows guessing without blocking other sessions
            self.redirect(self.request.uri + "?error=" + tornado.escape.url_escape("Invalid username or password!"))

    class CrmAuthProvider(BasicAuthProvider):
        @property
        def login_handler(self):
            CrmLoginHandler._login_endpoint = self._login_endpoint
            CrmLoginHandler._login_template = self._login_template
            return CrmLoginHandler

        @property
        def get_user(self):
            base = super().get_user

            def get_user(request_handler):
                user = base(request_handler)
                if user and user != "guest" and not may_log_in(db_path, user):
                    return None  # removed, deactivated or password cleared since the login
                return None if user == "guest" else user

            return get_user

    return CrmAuthProvider()
