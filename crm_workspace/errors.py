"""Errors a user or a plugin can cause.

Every error here carries a message fit to show a person as is: the CLI prints it
as one line, the dashboards show it in a notification. Anything else escaping
the core is a bug.
"""

from __future__ import annotations

from typing import Any


class CrmError(Exception):
    """Base class: an error whose message is meant for the user."""


class NotFound(CrmError):
    """A record, table, plugin or page that does not exist."""


class ValidationError(CrmError):
    """A record failed validation; ``errors`` maps each bad field to its message."""

    def __init__(self, table: str, errors: dict[str, str]):
        self.table = table
        self.errors = dict(errors)
        detail = "; ".join(f"{field}: {message}" for field, message in self.errors.items())
        super().__init__(f"Invalid {table} record — {detail}")


class ConflictError(CrmError):
    """An update was made against a stale version: someone else changed the record.

    ``mine`` holds the changes that were refused and ``theirs`` the record as it is
    now, so a form can show both instead of overwriting.
    """

    def __init__(self, table: str, row_id: Any, expected: int, theirs: dict, mine: dict):
        self.table = table
        self.row_id = row_id
        self.expected = expected
        self.theirs = theirs
        self.mine = mine
        by = theirs.get("updated_by") or "someone else"
        super().__init__(
            f"{table} #{row_id} was changed by {by} since you opened it "
            f"(your version {expected}, now {theirs.get('version')}); nothing was saved"
        )


class PermissionDenied(CrmError):
    """The acting user may not do this."""


class DatabaseLocked(CrmError):
    """The database stayed locked by another writer past the busy timeout."""


class PluginError(CrmError):
    """A plugin raised inside a hook; the message names the plugin and the hook."""

    def __init__(self, plugin: str, hook: str, error: BaseException | str):
        self.plugin = plugin
        self.hook = hook
        self.error = error if isinstance(error, BaseException) else CrmError(error)
        detail = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        super().__init__(f"plugin '{plugin}' failed in {hook}: {detail}")
