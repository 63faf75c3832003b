"""Roles, permissions and password hashing, enforced in the Store's write path.

Roles (``users.role``):

- **admin** — everything: records, users, settings, plugin state.
- **member** — records (contacts, organizations, deals, activities, relationships
  and every plugin's tables). By default a member may edit every record (the
  ``members_edit_all`` setting, default ``true``, keeps a small team's demo
  usable); an admin who sets it to ``false`` limits members to records they own
  (``owner`` = their username) or that nobody owns. Members may not write
  ``users``, ``plugin_state`` or a setting declared ``admin_only`` (one that
  changes behaviour for everyone; see ``crm_settings`` and
  crm_workspace/data/settings.py).
- **viewer** — reads only: every write is refused.

Who is checked — default deny (the decision, and why):

- **Setup mode**: while the users table is empty (a brand-new workspace, a
  notebook's or a test's fresh file), the local acting user is unrestricted, as
  an admin: whoever holds a fresh file owns it anyway. ``crm init`` and the demo
  add the acting user as the first admin, and ``crm users add`` refuses a first
  user who is not an admin, so setup mode ends with the first user.
- As soon as **one user exists**, rights come only from the users table: a user
  who is not in it (never added, or removed) and a disabled one (``active = 0``)
  have **no rights at all** — every write is refused, and the served app shows
  them nothing (``has_access``). Removing every user is the only way back to
  setup mode, and ``crm users remove`` refuses to remove the last admin.
- The role is read at every write, through a cache keyed on SQLite's
  ``data_version`` (any commit, in any process, invalidates it): a removed,
  disabled or demoted user loses rights at their next action, and a served
  session re-checks once a second (crm_workspace/web/session.py).
- **The system actor**: server-side code (scheduler ticks, verified signed
  links, inbound mail, plugin routes) acts as ``system:<name>`` with an admin's
  rights, through ``Workspace.as_system(name)`` only: its Actor carries
  ``system=True``, which nothing else sets. A ``system:`` name read from the
  users table, a login or a ``--user`` option gets no rights at all, and no user
  may be named ``system:...`` (``check_username``), so neither a users row nor a
  browser session can obtain it. Its writes are audited under its name.
- On the host the CLI and notebooks hold the database file itself, so file
  permissions are the real boundary there; the roles stop mistakes and shape what
  a named colleague can do. In the **served app** the boundary is the login
  (crm_workspace/web/auth.py).

Writes made with raw SQL (``store.conn.execute``) bypass these checks like they
bypass validation and the audit trail: plugins must write through the Store.
"""

from __future__ import annotations

import unicodedata
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from crm_workspace.data import schema
from crm_workspace.data.settings import SECURITY_SETTINGS
from crm_workspace.errors import CrmError, PermissionDenied

if TYPE_CHECKING:
    from crm_workspace.data.store import Store

ROLES = ("admin", "member", "viewer")
#: Tables only admins may write.
ADMIN_TABLES = frozenset({"users", "plugin_state", "login_sessions", "login_failures"})
#: Tables whose rows members may not write (append-only ones are refused by the Store anyway).
_SKIP = frozenset({"audit_log"})
_OWN_ACCOUNT = frozenset({"password_hash", "display_name", "email"})


#: Roles that grant nothing: a disabled user, and one who is not (or no longer) in the users table.
_INACTIVE = "inactive"
_UNKNOWN = "unknown"
#: A ``system:`` name claimed without ``Workspace.as_system`` (a --user option, CRM_USER).
_FALSE_SYSTEM = "false-system"
NO_RIGHTS = frozenset({_INACTIVE, _UNKNOWN, _FALSE_SYSTEM})
#: The prefix of the system actor's names (``system:marketing``): reserved, never a user's.
SYSTEM_PREFIX = "system:"


def is_system_name(user: str) -> bool:
    """Whether ``user`` is (or pretends to be) a system actor's name."""
    return str(user).casefold().startswith(SYSTEM_PREFIX)


@dataclass(frozen=True)
class Permissions:
    """What the acting user may write, decided once per Store call."""

    user: str
    role: str | None  # None: setup mode (no users yet), unrestricted
    edit_all: bool = True
    #: settings only an admin may write (the declared ``admin_only`` ones)
    admin_settings: frozenset[str] = SECURITY_SETTINGS
    #: the system actor (``Workspace.as_system``): an admin's rights, set by nothing else
    system: bool = False

    @property
    def enforced(self) -> bool:
        return self.role is not None

    @property
    def has_access(self) -> bool:
        """False for an unknown, removed or disabled user: no rights at all, not even to read in the app."""
        return self.role not in NO_RIGHTS

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
        if self.role is None or self.role == "admin":
            return
        if not self.has_access:
            raise PermissionDenied(self._no_rights(f"{action} {table}"))
        if table in _SKIP:
            return
        own = table == "users" and action == "update" and (before or {}).get("username") == self.user
        if own and set(record or {}) <= _OWN_ACCOUNT:
            return  # anyone active may change their own password, name and email
        if self.role != "member":
            what = "a viewer" if self.role == "viewer" else f"'{self.role}'"
            raise PermissionDenied(f"{self.user} is {what} and may not change data ({action} {table} refused)")
        if table in ADMIN_TABLES or table in schema.ADMIN_ONLY:
            raise PermissionDenied(f"only an admin may change {table} ({self.user} is a member)")
        if table == "settings":
            key = (before or {}).get("key") or (record or {}).get("key")
            if key in self.admin_settings:
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

    def _no_rights(self, what: str) -> str:
        if self.role == _FALSE_SYSTEM:
            return f"{self.user} is a system name: only server-side code acts as it ({what} refused)"
        if self.role == _INACTIVE:
            return f"{self.user} is disabled and has no rights ({what} refused)"
        return f"{self.user} is not a user of this workspace and has no rights ({what} refused)"


def _store(holder: Any) -> Store:
    """The Store of ``holder``: a Store, or anything holding one as ``.store`` (a Workspace)."""
    return getattr(holder, "store", holder)


# ------------------------------------------------------- role lookup (sec-auth)
#: Per Store: (data_version token, user, Permissions). Any commit in any process changes
#: the token, so a cached role is never stale; between commits a lookup costs one PRAGMA.
_role_cache: weakref.WeakKeyDictionary[Any, tuple[Any, str, Permissions]] = weakref.WeakKeyDictionary()


def system_permissions(user: str) -> Permissions:
    """The system actor's permissions: an admin's (the Actor's ``system`` flag asks for them)."""
    return Permissions(user, "admin", system=True)


def from_users_table(store: Store, user: str) -> Permissions:
    """``user``'s permissions, read from the users table and settings (the Actor's default).

    Default deny: with at least one user in the table, a user not in it, or disabled,
    has no rights; with none, the workspace is in setup mode (see the module docstring).
    """
    try:
        token = store.data_version()
    except Exception:  # a closed or broken connection: decide afresh (and fail there)
        token = object()
    cached = _role_cache.get(store)
    if cached is not None and cached[0] == token and cached[1] == user:
        return cached[2]
    found = _read_permissions(store, user)
    _role_cache[store] = (token, user, found)
    return found


def _read_permissions(store: Store, user: str) -> Permissions:
    if is_system_name(user):  # claimed without as_system: nothing, not even in setup mode
        return Permissions(user, _FALSE_SYSTEM)
    try:
        rows = store.query("SELECT role, active FROM users WHERE username = ?", [user])
        if not rows:
            setup_mode = not store.query("SELECT 1 FROM users LIMIT 1")
            return Permissions(user, None if setup_mode else _UNKNOWN)
    except CrmError:  # before the core migration ran: setup mode
        return Permissions(user, None)
    role = rows[0]["role"] if rows[0]["active"] not in (0, "0") else _INACTIVE
    if role != "member":
        return Permissions(user, role)
    edit_all = bool(store.settings.get("members_edit_all", True))
    return Permissions(user, role, edit_all, store.settings.admin_only())


def capped(source: Any, max_role: str) -> Any:
    """A role source giving the lesser of ``source``'s role and ``max_role`` (an API token's role).

    No rights stay no rights; setup mode (no users yet) counts as admin, so it is capped too.
    """
    rank = {role: i for i, role in enumerate(ROLES)}  # admin 0 < member 1 < viewer 2

    def role_source(store: Store, user: str) -> Permissions:
        found = source(store, user)
        if not found.has_access or rank.get(found.role or "admin", 0) >= rank[max_role]:
            return found
        if max_role == "member":
            return Permissions(
                user, "member", bool(store.settings.get("members_edit_all", True)), store.settings.admin_only()
            )
        return Permissions(user, max_role)

    return role_source


def permissions(holder: Store | Any) -> Permissions:
    """The acting user's permissions (of a Store, or of a Workspace's Store), never stale."""
    store = _store(holder)
    return store.actor.permissions(store)


def has_access(holder: Store | Any) -> bool:
    """True unless the acting user is unknown, removed or disabled (then: no rights, nothing shown)."""
    return permissions(holder).has_access


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
    """True for an admin, and for anyone in setup mode (no users yet; see the module docstring)."""
    return permissions(holder).role in (None, "admin")


def require_admin(holder: Store | Any, what: str) -> None:
    if not is_admin(holder):
        raise PermissionDenied(f"only an admin may {what} ({_store(holder).actor.user} is not one)")


def bootstrap_admin(store: Store, user: str) -> bool:
    """End setup mode: make ``user`` the first admin when the users table is empty (``crm init``, the demo)."""
    if store.query("SELECT 1 FROM users LIMIT 1"):
        return False
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    store.insert("users", {"username": user, "display_name": user, "role": "admin", "active": 1, "created_at": now})
    return True


#: Usernames: 1-64 characters, none of them whitespace or control characters.
_MAX_USERNAME = 64


def check_username(username: str) -> str:
    """``username`` if usable as a login and an audit name; else CrmError with one clear line."""
    if not username:
        raise CrmError("a username may not be empty")
    if len(username) > _MAX_USERNAME:
        raise CrmError(f"a username has at most {_MAX_USERNAME} characters")
    bad = next((c for c in username if c.isspace() or unicodedata.category(c).startswith("C")), None)
    if bad is not None:
        raise CrmError(f"a username may not contain spaces or control characters (found {bad!r})")
    if is_system_name(username):
        raise CrmError(f"a username may not begin with '{SYSTEM_PREFIX}' (reserved for server-side code)")
    return username


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


def password_hash_of(conn: Any, username: str) -> str | None:
    """The stored password hash of an active user, for checking a login only (None: no such user or none set).

    The one query of a hash, on the Store's connection (``Store.password_hash``) and on
    the login's own read-only one (crm_workspace/web/auth.py). Tagged so that the
    statement is cached apart from policy reads, which see the hash as NULL (access.py).
    """
    row = conn.execute(
        "/*crm:auth*/ SELECT password_hash FROM users WHERE username = ? AND coalesce(active, 1) != 0", [username]
    ).fetchone()
    return row[0] if row and row[0] else None


def login_enabled(conn: Any) -> bool:
    """True when any user has a password: the served app then requires login.

    Disabled users count too (fail closed): disabling the only user with a password
    does not open the served app to anonymous visitors.
    """
    try:
        row = conn.execute(
            "SELECT 1 FROM users WHERE password_hash IS NOT NULL AND password_hash != '' LIMIT 1"
        ).fetchone()
    except Exception:
        return False
    return row is not None
