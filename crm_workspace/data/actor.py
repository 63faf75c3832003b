"""Who writes, and what the Store tells the world around it: the Actor.

The Store knows no Workspace and no plugin manager. Whoever opens it (the
Workspace, a script, a test) hands it an ``Actor``: the acting user, where that
user's permissions come from, the hooks to call on the write path, and what to do
after a commit. The Workspace builds one whose hooks receive ``workspace=``, as
plugins expect.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from crm_workspace.data import permissions
from crm_workspace.types import Change

if TYPE_CHECKING:
    from crm_workspace.data.store import Store

#: ``call(table=..., record=..., before=...)``: every validation hook's non-None answer.
ValidateCall = Callable[..., list[dict[str, str]]]


class WriteHooks(Protocol):
    """The hooks the Store calls on the write path (``crm_validate_record``, ``crm_record_changed``)."""

    def validator(self, table: str | None = None) -> ValidateCall:
        """A caller of every ``crm_validate_record``, looked up once for many records.

        Given the ``table`` every call will name, it may leave out the implementations
        that declare they validate other tables only (``crm_validate_record.tables``).
        """
        ...

    def listens_to_changes(self) -> bool:
        """True when some plugin implements ``crm_record_changed`` (else inserts skip building Changes)."""
        ...

    def record_changed(self, changes: list[Change]) -> None:
        """Announce committed-to-be changes; a failure raises and aborts the write."""
        ...


class NoHooks:
    """No plugins: nothing validates, nobody listens (a bare Store in a script or a test)."""

    def validator(self, table: str | None = None) -> ValidateCall:
        return lambda **_kwargs: []

    def listens_to_changes(self) -> bool:
        return False

    def record_changed(self, changes: list[Change]) -> None:
        return None


def _nothing() -> None:
    return None


@dataclass(frozen=True)
class Actor:
    """The acting user of a Store and the world its writes report to."""

    user: str
    hooks: WriteHooks = field(default_factory=NoHooks)
    on_commit: Callable[[], None] = _nothing
    #: The user's permissions, read when a write starts (default: the users table and settings).
    role_source: Callable[[Store, str], permissions.Permissions] = permissions.from_users_table
    #: Server-side code acting as ``system:<name>`` with full rights (``Workspace.as_system``
    #: alone sets it): never a row of the users table, never a browser session.
    system: bool = False

    def permissions(self, store: Store) -> permissions.Permissions:
        if self.system:
            return permissions.system_permissions(self.user)
        return self.role_source(store, self.user)

    def __repr__(self) -> str:
        return f"<Actor {self.user!r}{' (system)' if self.system else ''}>"
