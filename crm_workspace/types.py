"""The small value objects hooks exchange with the core."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crm_workspace.workspace import Workspace


@dataclass(frozen=True)
class Page:
    """A dashboard page: ``view(workspace)`` returns the Panel object to show."""

    name: str
    title: str
    view: Callable[[Workspace], Any]
    #: A Tabler outline icon name the app ships (crm_workspace/web/icons.py: "users", "building",
    #: "layout-kanban", ...), drawn the same on every machine; an emoji ("🧩") still works, shown as text.
    icon: str = "file"
    order: int = 100
    plugin: str = ""
    #: Panel extensions the page needs loaded up front when served, e.g. ("tabulator",)
    extensions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Metric:
    """A KPI card: a label, a value and the SQL that produced it."""

    key: str
    label: str
    value: Any
    sql: str = ""
    help: str = ""
    fmt: str = "{:,}"
    page: str = ""
    plugin: str = ""

    def formatted(self) -> str:
        if self.value is None:
            return "—"
        try:
            return self.fmt.format(self.value)
        except (ValueError, TypeError):
            return str(self.value)


@dataclass(frozen=True)
class RecordSection:
    """A section another plugin adds to a record page.

    ``key`` names what the section shows, stably across translations and retitling
    (``"pipeline.deals"``, ``"relationships.list"``): a page that would otherwise show
    the same thing itself asks for the key, never the title. Left empty, it is derived
    as ``"<plugin>.<title as a slug>"`` once the plugin is known, so no two plugins'
    sections share a key by accident.
    """

    title: str
    view: Callable[[], Any]
    order: int = 100
    plugin: str = ""
    key: str = ""

    def __post_init__(self) -> None:
        if not self.key and self.plugin:
            slug = "-".join(re.findall(r"[a-z0-9]+", self.title.lower())) or "section"
            object.__setattr__(self, "key", f"{self.plugin}.{slug}")


@dataclass(frozen=True)
class PersonalData:
    """Where a plugin keeps a person's data: ``table`` rows whose ``contact_column`` is the contact's id.

    ``fields`` are the columns privacy erasure anonymises (and scrubs from the
    audit trail); export includes the whole rows. ``where`` narrows the rows
    with an SQL condition when the column is not always a contact's id (e.g.
    ``"source_type = 'contacts'"``); it may name the contact's id as ``:contact``,
    and with ``contact_column=""`` it alone chooses the rows (rows reached
    through a join); ``title`` names them in the export (the
    table's name by default); ``remove`` deletes the rows on erasure instead
    (tags, links: rows that are nothing but the person's data). See
    ``crm_personal_data``.
    """

    table: str
    contact_column: str
    fields: tuple[str, ...] = ()
    where: str = ""
    title: str = ""
    remove: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", tuple(self.fields))


@dataclass(frozen=True)
class Setting:
    """A workspace setting a plugin owns: its key, how a value is checked, its default and who may write it.

    ``check(value)`` returns the value to store (normalized) or raises ``ValueError``
    with one line a person can act on. ``admin_only`` settings change behaviour for
    everyone (stages, rules, security) and only admins may write them. A key no
    plugin declares cannot be written. See ``crm_settings``.
    """

    key: str
    check: Callable[[Any], Any]
    default: Any = None
    admin_only: bool = True
    doc: str = ""
    plugin: str = ""

    def clean(self, value: Any) -> Any:
        """``value`` as it is stored, or ``ValueError`` with the reason it is refused."""
        try:
            return self.check(value)
        except (TypeError, KeyError) as error:
            raise ValueError(str(error) or "not a valid value") from error


_NOT_GIVEN: Any = object()  # ``Change(...)`` without a context (an explicit None is kept as given)
_set_attribute = object.__setattr__


@dataclass(frozen=True, init=False)
class Change:
    """One record written through the Store: what it was and what it became."""

    table: str
    id: Any
    action: str  # "insert" | "update" | "delete"
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    user: str
    at: str
    context: dict[str, Any] = field(default_factory=dict)

    def __init__(
        self,
        table: str,
        id: Any,
        action: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        user: str,
        at: str,
        context: dict[str, Any] = _NOT_GIVEN,
    ) -> None:
        # the fields set at once: a frozen dataclass's own __init__ sets them one call each, two
        # thirds of the cost of the 100k changes a bulk write announces
        _set_attribute(
            self,
            "__dict__",
            {
                "table": table,
                "id": id,
                "action": action,
                "before": before,
                "after": after,
                "user": user,
                "at": at,
                "context": {} if context is _NOT_GIVEN else context,
            },
        )

    def changed(self, name: str) -> bool:
        """Whether field ``name`` differs between before and after."""
        before = (self.before or {}).get(name)
        after = (self.after or {}).get(name)
        return before != after


@dataclass(frozen=True)
class ApiResource:
    """A table served by the JSON API at ``/api/<name>`` (returned by ``crm_api_resources``).

    ``fields`` are the columns the API shows and accepts (default: every column, hidden
    ones never); ``read_only`` ones are shown but refused in a write (ids, stamps,
    ``version``); ``writable=False`` serves the table for reading only. Every write
    goes through the Store as the token's user, like a write from a page.
    """

    name: str
    table: str
    title: str = ""
    description: str = ""
    fields: tuple[str, ...] = ()
    read_only: tuple[str, ...] = ("id", "created_at", "updated_at", "updated_by", "version")
    writable: bool = True
    plugin: str = ""

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", self.name):
            raise ValueError(f"API resource name {self.name!r} must be lower-case letters, digits and _")
        object.__setattr__(self, "fields", tuple(self.fields))
        object.__setattr__(self, "read_only", tuple(self.read_only))


@dataclass(frozen=True)
class PluginInfo:
    name: str
    version: str
    enabled: bool
    builtin: bool
    hooks: tuple[str, ...]
    distribution: str = ""
    error: str = ""  # why it failed to load or migrate (then it is not enabled); "" when fine


@dataclass(frozen=True)
class Route:
    """An HTTP route a plugin serves beside the app (returned by ``crm_routes``).

    ``pattern`` is a Tornado URL pattern starting with a literal first segment
    (``/api/v1/contacts/([0-9]+)``); ``handler`` a ``tornado.web.RequestHandler``
    subclass, usually ``crm_workspace.services.http.RouteHandler``, whose
    ``initialize`` receives ``workspace=`` (the served workspace acting as
    ``system:<plugin>``) and ``kwargs``. Panel's login does not guard it: the
    handler authenticates the request itself or is public by design.
    """

    pattern: str
    handler: type
    kwargs: dict[str, Any] = field(default_factory=dict)
    plugin: str = ""
