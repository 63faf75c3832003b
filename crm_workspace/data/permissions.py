"""Roles, permissions and password hashing, enforced in the Store's write path.

Roles (``users.role``):

- **admin** — everything: records, users, settings, plugin state.
- **member** — records (contacts, organizations, deals, activities, relationships
  and every plugin's tables). By default a member may edit every record (the
  ``members_edit_all`` setting, default ``true``, keeps a small team's demo
  usable); an admin who sets it to ``false`` limits members to records they own
  (``owner`` = their username) or that nobody owns. Members may not write
  ``users``, ``plugin_state`` or the security settings.
- **viewer** — reads only: every write is refused.

Who is checked (the decision, and why):

- Enforcement applies to an **acting user who is in the users table**. Such a
  user is checked by role; an inactive one (``active = 0``) may write nothing.
- An acting user who is **not** in the users table (a notebook's ``tester``, a
  script's OS login, a fresh workspace before its first ``crm users add``) is
  unrestricted, unless the setting ``require_known_users`` is ``true`` and at
  least one user exists: then such a user is refused every write (a viewer).
  Adding the first admin does **not** turn this on by itself — an admin opts in
  with ``crm settings``-style ``ws.set_setting("require_known_users", True)``
  (or ``crm users require-known on``), so existing notebooks and scripts keep
  working until the team decides otherwise.
- Why unknown users are not refused by default: the CLI and notebooks hold the
  database file itself, so file permissions are the real boundary there; the
  roles stop mistakes and shape what a named colleague can do. In the **served
  app** the boundary is the login (crm_workspace/web/auth.py): once any user has a
  password, every browser session is a logged-in, known user, checked by role.

Writes made with raw SQL (``store.conn.execute``) bypass these checks like they
bypass validation and the audit trail: plugins must write through the Store.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crm_workspace.errors import CrmError, PermissionDenied

if TYPE_CHECKING:
    from crm_workspace.data.store import Store

ROLES = ("admin", "member", "viewer")
#: Tables only admins may write.
ADMIN_TABLES = frozenset({"users", "plugin_state"})
#: Settings only admins may write.
SECURITY_SETTINGS = frozenset({"members_edit_all", "require_known_users", "session_hours"})
#: Tables whose rows members may not write (append-only ones are refused by the Store anyway).
_SKIP = frozenset({"audit_log"})
_OWN_ACCOUNT = frozenset({"password_hash", "display_name", "email"})


@dataclass(frozen=True)
class Permissions:
    """What the acting user may write, decided once per Store call."""

    user: str
    role: str | None  # None: unrestricted (unknown user, no enforcement)
    edit_all: bool = True

    @property
    def enforced(self) -> bool:
        return self.role is not None

    def authorize_inserts(self, table: str, records: Iterable[dict]) -> Iterable[dict]:
        """``records``, once this user may insert them into ``table`` (settings: checked by key)."""
        if not self.enforced:
            return records
        if table != "settings":
            self.check(table, "insert")
            return records
        records = list(records)
        for record in records:
            self.check(table, "insert", None, record)
        return records

    def check(self, table: str, action: str, before: dict[str, Any] | None = None, record: dict | None = None) -> None:
        """Raise PermissionDenied if this user may not ``action`` (insert/update/delete) this row."""
        if self.role is None or self.role == "admin" or table in _SKIP:
            return
        own = table == "users" and action == "update" and (before or {}).get("username") == self.user
        if own and set(record or {}) <= _OWN_ACCOUNT and self.role != _INACTIVE:
            return  # anyone active may change their own password, name and email
        if self.role != "member":
            what = "a viewer" if self.role == "viewer" else f"'{self.role}'"
            raise PermissionDenied(f"{self.user} is {what} and may not change data ({action} {table} refused)")
        if table in ADMIN_TABLES:
            raise PermissionDenied(f"only an admin may change {table} ({self.user} is a member)")
        if table == "settings":
            key = (before or {}).get("key") or (record or {}).get("key")
            if key in SECURITY_SETTINGS:
                raise PermissionDenied(f"only an admin may change the setting '{key}'")
            return
        if self.edit_all or before is None:
            return
        owner = before.get("owner")
        if owner not in (None, "", self.user):
            raise PermissionDenied(
                f"{table} #{before.get('id')} belongs to {owner}: members may edit only their own "
                f"or unowned records (setting members_edit_all is off)"
            )


_INACTIVE = "inactive"


def _store(holder: Any) -> Store:
    """The Store of ``holder``: a Store, or anything holding one as ``.store`` (a Workspace)."""
    return getattr(holder, "store", holder)


def from_users_table(store: Store, user: str) -> Permissions:
    """``user``'s permissions, read from the users table and settings now (the Actor's default)."""
    try:
        rows = store.query("SELECT role, active FROM users WHERE username = ?", [user])
    except CrmError:  # before the core migration ran
        return Permissions(user, None)
    if rows:
        role = rows[0]["role"] if rows[0]["active"] not in (0, "0") else _INACTIVE
        edit_all = True
        if role == "member":
            edit_all = bool(store.settings.get("members_edit_all", True))
        return Permissions(user, role, edit_all)
    if store.settings.get("require_known_users", False) and store.scalar("SELECT count(*) FROM users"):
        return Permissions(user, "unknown user")
    return Permissions(user, None)


def permissions(holder: Store | Any) -> Permissions:
    """The acting user's permissions (of a Store, or of a Workspace's Store), read now."""
    store = _store(holder)
    return store.actor.permissions(store)


def role_of(holder: Store | Any, user: str | None = None) -> str | None:
    """The role of ``user`` (default: the acting user) or None if not a (active) user."""
    store = _store(holder)
    rows = store.query(
        "SELECT role FROM users WHERE username = ? AND coalesce(active, 1) != 0", [user or store.actor.user]
    )
    return rows[0]["role"] if rows else None


def team(holder: Store | Any) -> list[dict[str, Any]]:
    """The active users (username, display_name, role), by username: whom a served app may act as."""
    return _store(holder).query(
        "SELECT username, display_name, role FROM users WHERE coalesce(active, 1) != 0 ORDER BY username"
    )


def is_admin(holder: Store | Any) -> bool:
    """True for an admin, and for an unrestricted unknown user (see the module docstring)."""
    return permissions(holder).role in (None, "admin")


def require_admin(holder: Store | Any, what: str) -> None:
    if not is_admin(holder):
        raise PermissionDenied(f"only an admin may {what} ({_store(holder).actor.user} is not one)")


# --------------------------------------------------------------- passwords
_hasher = None


def _argon() -> Any:
    global _hasher
    if _hasher is None:
        from argon2 import PasswordHasher

        _hasher = PasswordHasher()
    return _hasher


def hash_password(password: str) -> str:
    """An argon2id hash (salted, self-describing); the clear password is never stored."""
    if len(password) < 8:
        raise CrmError("a password needs at least 8 characters")
    return _argon().hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True if ``password`` matches ``stored_hash``; False for no hash or a mismatch."""
    if not stored_hash or not password:
        return False
    from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

    try:
        return _argon().verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def login_enabled(conn: Any) -> bool:
    """True when at least one active user has a password: the served app then requires login."""
    try:
        row = conn.execute(
            "SELECT 1 FROM users WHERE password_hash IS NOT NULL AND password_hash != '' "
            "AND coalesce(active, 1) != 0 LIMIT 1"
        ).fetchone()
    except Exception:
        return False
    return row is not None
