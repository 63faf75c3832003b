"""Workspace settings: JSON values in the ``settings`` table, read through one cache.

Validation asks for settings once per written row and permissions at every
write, so all settings are read in one query and kept until any connection
commits (the Store's ``data_version`` token changes) or this Store writes the
``settings`` table.

Each setting has an owner: a plugin declares it (``crm_settings``, a ``Setting``
with a check, a default and ``admin_only``). Whoever opens the Store hands it
the catalogue of declarations (the Workspace does); writes are then checked
against it by the core rules (crm_workspace/core_rules.py) and the permissions
(crm_workspace/data/permissions.py). A bare Store without a catalogue checks
only the built-in security settings.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from crm_workspace.errors import CrmError

if TYPE_CHECKING:
    from crm_workspace.data.store import Store
    from crm_workspace.types import Setting

#: Settings only admins may write when no catalogue of declarations is known (a bare Store).
SECURITY_SETTINGS = frozenset({"members_edit_all"})
#: JSON values that are immutable once decoded
_SCALARS = frozenset({str, int, float, bool})


class Settings:
    """The settings of one Store, cached until the data changes."""

    def __init__(self, store: Store):
        self._store = store
        self._cache: tuple[Any, dict[str, str]] | None = None
        #: decoded values of the cache above, for those safe to hand out again (see ``get``)
        self._decoded: dict[str, Any] = {}
        #: every declared setting by key (the Workspace gives ``crm_settings``' answers); None: not known
        self.catalog: Callable[[], dict[str, Setting]] | None = None

    def declared(self) -> dict[str, Setting] | None:
        """The declared settings by key, or None for a Store opened without a catalogue."""
        return self.catalog() if self.catalog is not None else None

    def admin_only(self) -> frozenset[str]:
        """The keys only an admin may write."""
        declared = self.declared()
        if declared is None:
            return SECURITY_SETTINGS
        return frozenset(key for key, setting in declared.items() if setting.admin_only)

    def get(self, key: str, default: Any = None) -> Any:
        """The setting ``key`` decoded from JSON, or ``default`` (also before the core migration ran)."""
        token = self._store.data_version()
        cached = self._cache
        if cached is None or cached[0] != token:
            try:
                rows = self._store.query("SELECT key, value FROM settings")
            except CrmError:  # no settings table yet
                return default
            cached = self._cache = (token, self._usable({row["key"]: row["value"] for row in rows}))
            self._decoded = {}
        if key in self._decoded:  # validation asks for the same setting for every row of a bulk write
            value = self._decoded[key]
            return list(value) if value.__class__ is list else value
        encoded = cached[1].get(key)
        if encoded is None:
            return default
        try:
            value = json.loads(encoded)
        except (TypeError, ValueError):
            return default
        if value is None or value.__class__ in _SCALARS:
            self._decoded[key] = value
        elif value.__class__ is list and all(item is None or item.__class__ in _SCALARS for item in value):
            self._decoded[key] = list(value)  # handed out as a copy: the caller may change its list
        return value

    def _usable(self, stored: dict[str, str]) -> dict[str, str]:
        """``stored`` without values their declaration refuses (written before checks, or by raw SQL).

        Such a value reads as the caller's default instead of breaking every write that reads it.
        """
        declared = self.declared() or {}
        for key in [key for key in stored if key in declared]:
            try:
                declared[key].clean(json.loads(stored[key]))
            except (TypeError, ValueError):
                del stored[key]
        return stored

    def set(self, key: str, value: Any) -> None:
        """Store ``value`` as JSON under ``key`` (through the Store: checked, audited)."""
        store = self._store
        encoded = json.dumps(value)
        try:
            with store.transaction():
                if store.query("SELECT 1 FROM settings WHERE key = ?", [key]):
                    store.update("settings", key, {"value": encoded})
                else:
                    store.insert("settings", {"key": key, "value": encoded})
        finally:
            self.forget()

    def forget(self) -> None:
        """Drop the cache (the Store calls this when it writes the settings table)."""
        self._cache = None
        self._decoded = {}
