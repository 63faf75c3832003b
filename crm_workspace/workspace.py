"""Workspace: the one object a notebook, a dashboard or the CLI holds.

It owns a Store (the database, crm_workspace/data/), a plugin host (the modules,
crm_workspace/plugins.py) and the acting user, and is a thin facade over them:
what plugins contribute is gathered in crm_workspace/registry.py, ``df``'s SQL is
built in crm_workspace/data/query.py, settings live in crm_workspace/data/settings.py,
and the views are drawn by the UI backend the package root gives it (``ui_backend``). ``ws.as_user(name)``
gives each served session its own Workspace over the same database connections
and plugins.
"""

from __future__ import annotations

import getpass
import os
import shlex
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import param
import pluggy
import sqlite_utils

from crm_workspace import plugins as plugin_system
from crm_workspace import registry
from crm_workspace.data import permissions, schema
from crm_workspace.data import query as table_query
from crm_workspace.data.actor import Actor
from crm_workspace.data.store import Pool, Store
from crm_workspace.errors import CrmError, NotFound, PluginError
from crm_workspace.types import ApiResource, Metric, Page, PluginInfo, RecordSection, Route, Setting

if TYPE_CHECKING:
    import pandas

DEFAULT_DB = "crm.db"


def default_path() -> str:
    return os.environ.get("CRM_DB") or DEFAULT_DB


def default_user() -> str:
    user = os.environ.get("CRM_USER")
    if user:
        return user
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "anonymous"


@dataclass
class _Shared:
    """What every ``as_user`` copy of one workspace shares."""

    pool: Pool
    host: plugin_system.PluginHost
    #: the declared settings and the plugins that declared them (``Workspace.declared_settings``)
    settings: tuple[frozenset[int], dict[str, Setting]] | None = None


class Workspace(param.Parameterized):
    """A CRM workspace: one SQLite file and the plugins that work on it."""

    user = param.String(default="", doc="The acting user, recorded in the audit trail.")
    revision = param.Integer(default=0, doc="Bumped whenever the data changes; views depend on it to refresh.")
    page = param.String(default="home", doc="The page the served app shows.")
    page_args = param.Dict(default={}, doc="Arguments of the page, e.g. {'id': 12}.")

    #: What draws pages for ``dashboard()`` and ``app()``: a callable returning a module with
    #: ``dashboard(ws, name)`` and ``app(ws)``. Given by the layer above (the package root hands it
    #: the web shell), so this core class knows no UI and imports none.
    ui_backend: ClassVar[Callable[[], Any] | None] = None

    def __init__(
        self, shared: _Shared, *, user: str, max_role: str | None = None, _system: bool = False, **params: Any
    ):
        super().__init__(user=user, **params)
        self._shared = shared
        self._max_role = max_role
        self._system = _system
        self.store = Store(shared.pool, self._actor(user))
        self.store.settings.catalog = self.declared_settings
        self._seen_version: tuple[int, int, int] | object | None = None
        self.param.watch(self._user_changed, "user")

    def _actor(self, user: str) -> Actor:
        """The Store's actor: this user, hooks called with ``workspace=self``, views told of commits."""
        hooks = plugin_system.WorkspaceHooks(self._shared.host.pm, self)
        if self._max_role is None or self._system:
            return Actor(user, hooks=hooks, on_commit=self.changed, system=self._system)
        source = permissions.capped(permissions.from_users_table, self._max_role)
        return Actor(user, hooks=hooks, on_commit=self.changed, role_source=source)

    def _user_changed(self, event: Any) -> None:
        self._system = False  # another user is never the system: the flag goes with the name it was given for
        self.store.actor = self._actor(event.new)

    # ------------------------------------------------------------ opening
    @classmethod
    def open(
        cls,
        path: str | os.PathLike | None = None,
        *,
        user: str | None = None,
        create: bool = True,
        builtins_only: bool = False,
        load_plugins: bool = True,
    ) -> Workspace:
        """Open (creating and migrating if needed) the workspace at ``path``.

        ``path`` defaults to ``$CRM_DB``, else ``./crm.db``. ``builtins_only``
        ignores plugins from other distributions; ``load_plugins=False`` loads none
        (tests register their own).
        """
        path = Path(path or default_path())
        if path.is_dir():
            raise CrmError(f"{path} is a directory, not a workspace database")
        missing = NotFound(f"no workspace at {path} (create one with `crm init --db {shlex.quote(str(path))}`)")
        if not path.exists() and not create:
            raise missing
        if path.exists() and not _check_workspace_file(path) and not create:
            raise missing  # an empty SQLite file: only `crm init` (create=True) makes it a workspace
        shared = _Shared(pool=Pool(path), host=plugin_system.PluginHost())
        workspace = cls(shared, user=user or default_user())
        shared.host.pm.register(_core_rules(), name="core")
        if load_plugins:
            shared.host.load_installed(
                disabled=plugin_system.disabled_plugins(workspace.store), builtins_only=builtins_only
            )
        workspace.migrate()
        return workspace

    def as_user(self, user: str, *, max_role: str | None = None) -> Workspace:
        """This workspace acting as ``user``: same database and plugins, own UI state.

        ``max_role`` caps the user's rights for this workspace (an API token with the
        role ``viewer`` of an admin reads only): the lesser of it and the user's
        current role applies, read at every write.
        """
        if max_role is not None and max_role not in permissions.ROLES:
            raise CrmError(f"unknown role '{max_role}' (roles: {', '.join(permissions.ROLES)})")
        return type(self)(self._shared, user=user, max_role=max_role)

    def as_system(self, name: str) -> Workspace:
        """This workspace acting as ``system:<name>``: full rights, audited under that name.

        Only for server-side code: scheduler ticks, verified signed links, inbound
        mail, plugin routes. Nothing a browser sends can obtain it (a ``system:``
        name from a login, the users table or ``--user`` has no rights at all).
        """
        name = str(name or "").strip()
        if not name or any(c.isspace() for c in name):
            raise CrmError(f"a system actor needs a name without spaces, not {name!r}")
        return type(self)(self._shared, user=f"system:{name}", _system=True)

    @property
    def system(self) -> bool:
        """True when this workspace acts as the system (``as_system``)."""
        return self._system

    @property
    def path(self) -> str:
        return self._shared.pool.path

    @property
    def pm(self) -> pluggy.PluginManager:
        return self._shared.host.pm

    def close(self) -> None:
        self._shared.pool.close()

    def __repr__(self) -> str:
        return f"<Workspace {self.path!r} as {self.user!r}>"

    # ----------------------------------------------------------- plugins
    def register(self, plugin: Any, name: str | None = None) -> str:
        """Register a plugin object or module (for example a class defined in a notebook cell).

        Its migrations are applied at once and every open view refreshes.
        Misspelled hook names, wrong hook arguments and a failing migration raise
        a ``PluginError`` naming the plugin, and the plugin is left unregistered.
        """
        host = self._shared.host
        name = host.register(plugin, name)
        self.migrate()
        self.changed()
        if name in host.failed:
            raise host.failed[name]
        return name

    def unregister(self, name: str) -> None:
        """Remove a registered plugin; its recorded problems go with it."""
        if self._shared.host.unregister(name):
            self.changed()

    def plugins(self) -> list[PluginInfo]:
        """Every installed or registered plugin: name, version, enabled (or why it failed), hooks."""
        return self._shared.host.infos()

    def plugin_errors(self) -> list[PluginError]:
        return list(self._shared.host.errors.values())

    def implementers(self, hook: str) -> list[str]:
        """The enabled plugins implementing ``hook`` (a hook name such as ``"crm_tick"``)."""
        return self._shared.host.implementers(hook)

    def call_plugin(self, name: str, hook: str, **kwargs: Any) -> list[Any]:
        """Call plugin ``name``'s ``hook`` alone; a failure is recorded (``plugin_errors``) and raised."""
        return self._shared.host.call_plugin(name, hook, **kwargs)

    def enable(self, name: str) -> None:
        """Enable an installed plugin; the choice is kept in the database."""
        host = self._shared.host
        ep = host.entry_point(name)
        plugin_system.set_plugin_state(self.store, name, True)
        if not self.pm.has_plugin(name):
            host.load(ep)
            self.migrate()
            self.changed()
            if name in host.failed:
                raise host.failed[name]

    def disable(self, name: str) -> None:
        """Disable an installed plugin; the choice is kept in the database."""
        self._shared.host.entry_point(name)
        plugin_system.set_plugin_state(self.store, name, False)
        self.unregister(name)

    def migrate(self) -> None:
        """Apply pending migrations: the core's, then every plugin's named set.

        A plugin whose migrations fail is unregistered and reported as failed.
        """
        host = self._shared.host
        if schema.migrations.name not in host.migrated:
            self.store.migrate([])
            host.migrated.add(schema.migrations.name)
        for name, migrations in host.collect("crm_migrations"):
            if migrations.name in host.migrated:
                continue
            try:
                self.store.migrate([migrations])
            except Exception as error:
                host.fail(PluginError(name, "crm_migrations", error))
            else:
                host.migrated.add(migrations.name)

    # --------------------------------------------------------- collecting
    def pages(self) -> list[Page]:
        """Every enabled plugin's dashboard pages, in navigation order; duplicates skipped."""
        return registry.pages(self._shared.host, self)

    def metrics(self) -> list[Metric]:
        """KPI cards from every plugin's ``crm_metrics``."""
        return registry.metrics(self._shared.host, self)

    def record_sections(self, table: str, record_id: int) -> list[RecordSection]:
        return registry.record_sections(self._shared.host, self, table, record_id)

    def data_views(self) -> dict[str, Any]:
        return registry.data_views(self._shared.host, self)

    def views(self) -> pandas.DataFrame:
        """Every named DataFrame view ``ws.df(name, **filters)`` accepts: name, plugin, description."""
        return registry.views_frame(self._shared.host, self)

    def api_resources(self) -> list[ApiResource]:
        """The tables every enabled plugin serves through the JSON API (``crm_api_resources``), by name."""
        return registry.api_resources(self._shared.host, self)

    def field_aliases(self) -> dict[str, dict[str, list[str]]]:
        return registry.field_aliases(self._shared.host)

    def routes(self) -> list[Route]:
        """Every enabled plugin's HTTP routes (``crm_routes``); shadowing or repeated patterns are refused."""
        return registry.routes(self._shared.host, self)

    # ------------------------------------------------------------- reads
    def df(self, source: str, **params: Any) -> pandas.DataFrame:
        """A pandas DataFrame of exactly what you ask for.

        ``source`` is a table name (keyword filters ``where``, ``order_by``,
        ``limit``, ``offset``, ``columns``; other keywords bind ``:name``
        parameters), a named view from a plugin (``ws.df("pipeline.forecast")``)
        or an SQL query with ``:name`` parameters.

        Tables and SQL are read under the acting user's read policy (no writes, no
        password hashes, the audit log for admins only: crm_workspace/data/access.py).
        """
        import pandas as pd

        views = self.data_views() if table_query.is_view_name(source) else {}
        if source in views:
            return views[source](**params)
        if table_query.is_table_name(source):
            sql = table_query.table_select(self.store, source, params)
        elif table_query.is_view_name(source):
            raise NotFound(f"no view named '{source}' (views: {', '.join(sorted(views)) or 'none'})")
        else:
            sql = source

        def run(conn: Any, tag: str) -> pandas.DataFrame:
            try:
                return pd.read_sql_query(tag + sql, conn, params=params or None)
            except Exception as error:  # pandas wraps sqlite errors in its own types
                raise CrmError(f"query failed: {error}") from error

        return self.store.read(run, as_actor=True)

    def query(self, sql: str, params: Any = None) -> list[dict[str, Any]]:
        """Rows of an SQL query as dicts; read-only, under the acting user's read policy."""
        return self.store.query(sql, params, as_actor=True)

    def search(self, query: str, limit: int = 20) -> pandas.DataFrame:
        """Search every module (names, emails, organizations, ...) for ``query``."""
        return registry.search(self._shared.host, self, query, limit)

    # ---------------------------------------------------------- settings
    def setting(self, key: str, default: Any = None) -> Any:
        """A workspace setting (JSON in the ``settings`` table), or ``default``.

        Read through the Store's one settings cache (crm_workspace/data/settings.py).
        """
        return self.store.settings.get(key, default)

    def set_setting(self, key: str, value: Any) -> None:
        """Store a declared setting: checked by its owner's ``Setting`` (ValidationError), admin-only ones by role."""
        self.store.settings.set(key, value)

    def declared_settings(self) -> dict[str, Setting]:
        """Every setting the plugins declare (``crm_settings``) by key; the first declaration of a key wins.

        Asked whenever settings are re-read (after any commit): kept until a plugin is added or removed.
        """
        host = self._shared.host
        plugins = frozenset(map(id, host.pm.get_plugins()))
        if self._shared.settings is None or self._shared.settings[0] != plugins:
            declared: dict[str, Setting] = {}
            for plugin, settings in host.collect("crm_settings"):
                for setting in settings:
                    declared.setdefault(setting.key, replace(setting, plugin=setting.plugin or plugin))
            self._shared.settings = (plugins, declared)
        return dict(self._shared.settings[1])

    def lifecycle_stages(self) -> list[str]:
        """The workspace's ordered lifecycle stages (the ``lifecycle_stages`` setting)."""
        stages = self.setting("lifecycle_stages")  # a list read from the settings is a fresh copy already
        return stages if stages.__class__ is list else list(schema.LIFECYCLE_STAGES if stages is None else stages)

    # -------------------------------------------------------------- views
    def dashboard(self, name: str) -> Any:
        """The Panel object of one page (a module's, or the app's own); displays inline in Jupyter."""
        return self._ui().dashboard(self, name)

    def app(self) -> Any:
        """The whole workspace app: a layout inline, a template when served."""
        return self._ui().app(self)

    def _ui(self) -> Any:
        if Workspace.ui_backend is None:
            raise CrmError("no UI backend: import crm_workspace (the package) to draw pages")
        return Workspace.ui_backend()

    @property
    def read_only(self) -> bool:
        """True when the acting user may change nothing (a viewer, an inactive user): pages hide their edits."""
        from crm_workspace.data.permissions import permissions

        return permissions(self.store).role not in (None, "admin", "member")

    def open_page(self, name: str, **args: Any) -> None:
        """Navigate the served app (or an inline app) to a page, e.g. a contact record."""
        self.param.update(page=name, page_args=args)

    # ------------------------------------------------------------ changes
    def changed(self) -> None:
        """Tell this workspace's views that data changed (after a write)."""
        self._seen_version = self.store.data_version()
        self.revision += 1

    def poll(self) -> bool:
        """Refresh views if any connection, process or notebook wrote since last time."""
        version = self.store.data_version()
        if version != self._seen_version:
            first = self._seen_version is None
            self._seen_version = version
            if not first:
                self.revision += 1
                return True
        return False


def _check_workspace_file(path: Path) -> bool:
    """Whether ``path`` is already a workspace (False: an empty database); refuse anything else untouched.

    Checked before the first write: migrating, or merely switching to WAL, would
    change a foreign SQLite file (an app's database given by mistake) even when
    opening then fails; a workspace from a newer crm-workspace would be written
    by code that does not know its schema.
    """
    # Asked through SQLite, never open()/close(): closing a plain descriptor drops every
    # POSIX lock this process holds on the file, SQLite connections' included, and then
    # another process closing its last connection deletes the live WAL (lost commits).
    import sqlite3

    if not os.access(path, os.R_OK):
        raise CrmError(f"cannot read {path}: permission denied")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            applied = set()
            if "_sqlite_migrations" in tables:
                applied = {
                    row[0]
                    for row in conn.execute(
                        "SELECT name FROM _sqlite_migrations WHERE migration_set = ?", [schema.migrations.name]
                    )
                }
        finally:
            conn.close()
    except sqlite3.DatabaseError as error:
        if "not a database" in str(error) or "malformed" in str(error):
            raise CrmError(f"{path} is not a crm-workspace database (not an SQLite file)") from error
        raise CrmError(f"cannot open {path}: {error}") from error
    tables = {t for t in tables if not t.startswith("sqlite_")}
    if not tables:
        return False
    if not applied:
        shown = ", ".join(sorted(tables)[:3]) + (", ..." if len(tables) > 3 else "")
        raise CrmError(f"{path} is an SQLite database but not a crm-workspace (tables: {shown}); left untouched")
    known = {m.name for m in schema.migrations.pending(sqlite_utils.Database(memory=True))}  # all, by name
    unknown = applied - known
    if unknown:
        raise CrmError(
            f"{path}: this workspace was made by a newer crm-workspace (unknown migrations: "
            f"{', '.join(sorted(unknown))}); upgrade crm-workspace to open it"
        )
    return True


def _core_rules() -> Any:
    from crm_workspace import core_rules

    return core_rules
