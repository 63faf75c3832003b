"""The one plugin host: discovery, loading, enable/disable state, error isolation.

One host per Workspace (a notebook may open two workspaces; tests need no
register/unregister dance); the CLI uses the same host to add the plugins'
commands. Plugins are found through the ``crm_workspace`` entry-point group —
the built-ins too, exactly like a plugin from PyPI. Every hook is called through
pluggy, so ``wrapper=True`` implementations and tracing work everywhere.

Environment:
- ``CRM_PLUGINS=a,b`` loads only the named entry-point plugins (allow-list);
- ``CRM_TRACE_HOOKS=1`` prints every hook call and result to stderr.
"""

from __future__ import annotations

import os
import re
import sqlite3
import sys
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import metadata
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import pluggy

from crm_workspace import hookspecs
from crm_workspace.errors import CrmError, NotFound, PluginError
from crm_workspace.types import PluginInfo

if TYPE_CHECKING:
    from crm_workspace.data.store import Store

PROJECT = "crm_workspace"
DISTRIBUTION = "crm-workspace"
#: Plugin managers made with ``$CRM_TRACE_HOOKS``: their write path goes through pluggy too.
_TRACED: weakref.WeakSet[pluggy.PluginManager] = weakref.WeakSet()


@dataclass(frozen=True)
class EntryPointPlugin:
    name: str
    module: str
    distribution: str
    version: str

    @property
    def builtin(self) -> bool:
        return self.distribution == DISTRIBUTION


def _allow_list() -> set[str] | None:
    allow = os.environ.get("CRM_PLUGINS")
    return {name.strip() for name in allow.split(",") if name.strip()} if allow else None


def discover(builtins_only: bool = False) -> list[EntryPointPlugin]:
    """Every plugin installed under the entry-point group, built-ins first."""
    allowed = _allow_list()
    found = []
    for ep in metadata.entry_points(group=PROJECT):
        dist = ep.dist.name if ep.dist else ""
        if builtins_only and dist != DISTRIBUTION:
            continue
        if allowed is not None and ep.name not in allowed:
            continue
        version = ep.dist.version if ep.dist else ""
        found.append(EntryPointPlugin(ep.name, ep.value, dist, version))
    return sorted(found, key=lambda p: (not p.builtin, p.name))


def unknown_allowed() -> PluginError | None:
    """A ``PluginError`` naming the ``$CRM_PLUGINS`` entries that no installed plugin has, if any."""
    allowed = _allow_list()
    installed = {ep.name for ep in metadata.entry_points(group=PROJECT)}
    unknown = sorted((allowed or set()) - installed)
    if not unknown:
        return None
    message = f"not installed (installed: {', '.join(sorted(installed)) or 'none'})"
    return PluginError(", ".join(unknown), "CRM_PLUGINS", message)


def make_plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    if os.environ.get("CRM_TRACE_HOOKS"):
        pm.trace.root.setwriter(lambda message: print(message, end="", file=sys.stderr))
        pm.enable_tracing()
        _TRACED.add(pm)
    return pm


def load(ep: EntryPointPlugin) -> Any:
    """Import an entry point's object."""
    for candidate in metadata.entry_points(group=PROJECT, name=ep.name):
        return candidate.load()
    raise LookupError(ep.name)


def dormant_answers(pm: pluggy.PluginManager, hook_name: str, **kwargs: Any) -> list[Any]:
    """``hook_name``'s answers of every installed plugin not running in ``pm``.

    Disabled, failed, or left out by ``$CRM_PLUGINS``: their tables stay in the database,
    so a question such as "which personal data do you keep?" must still reach them. Each
    is loaded into a plugin manager of its own: nothing of theirs joins the workspace. One
    that cannot be loaded raises its PluginError, since what it would have answered is unknown.
    """
    answers: list[Any] = []
    for ep in metadata.entry_points(group=PROJECT):
        if pm.has_plugin(ep.name):
            continue
        own = make_plugin_manager()
        try:
            own.register(ep.load(), name=ep.name)
        except Exception as error:
            raise PluginError(ep.name, "import", error) from error
        answers.extend(call_strict(own, hook_name, **kwargs))
    return answers


# ------------------------------------------------------------------- state
def disabled_plugins(store: Store) -> set[str]:
    """The plugins an admin disabled (the ``plugin_state`` table); none in a new database."""
    try:
        rows = store.query("SELECT name FROM plugin_state WHERE enabled = 0")
    except (CrmError, sqlite3.DatabaseError):  # a new database, or not one at all (said when it opens)
        return set()
    return {row["name"] for row in rows}


def set_plugin_state(store: Store, name: str, enabled: bool) -> None:
    """Keep an admin's choice to enable or disable ``name`` in the database."""
    from crm_workspace.data import permissions
    from crm_workspace.data.store import utcnow

    permissions.require_admin(store, "enable or disable plugins")
    with store.transaction() as db:
        db["plugin_state"].upsert({"name": name, "enabled": int(enabled), "changed_at": utcnow()}, pk="name")


# -------------------------------------------------------------------- host
class PluginHost:
    """The plugins of one workspace (or one CLI run): loaded, failed, and their problems."""

    def __init__(self, pm: pluggy.PluginManager | None = None):
        self.pm = pm or make_plugin_manager()
        self.entry_points: dict[str, EntryPointPlugin] = {}
        #: every problem by plugin name: failed hooks, duplicate pages, failed loads
        self.errors: dict[str, PluginError] = {}
        #: plugins that could not be imported, registered or migrated: not registered, their hooks unused
        self.failed: dict[str, PluginError] = {}
        #: names of the migration sets applied in this process
        self.migrated: set[str] = set()

    def load_installed(self, *, disabled: set[str] = frozenset(), builtins_only: bool = False) -> None:
        """Register every installed plugin not in ``disabled``; a failure is recorded, not raised."""
        if (unknown := unknown_allowed()) is not None:
            self.errors[unknown.plugin] = unknown
        for ep in discover(builtins_only):
            self.entry_points[ep.name] = ep
            if ep.name not in disabled:
                self.load(ep)

    def load(self, ep: EntryPointPlugin) -> None:
        try:
            plugin = load(ep)
        except Exception as error:
            self.fail(PluginError(ep.name, "import", error))
            return
        try:
            self.register(plugin, name=ep.name)
        except PluginError as error:
            self.fail(error)

    def register(self, plugin: Any, name: str | None = None) -> str:
        """Register ``plugin``, refusing unknown hook names and wrong hook arguments with a PluginError."""
        name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        if self.pm.has_plugin(name):
            self.pm.unregister(name=name)
        try:
            self.pm.register(plugin, name=name)
        except (pluggy.PluginValidationError, ValueError) as error:
            raise PluginError(name, "register", error) from error
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as error:
            self.pm.unregister(name=name)
            raise PluginError(name, "register", _unknown_hook_message(error)) from error
        self.errors.pop(name, None)
        self.failed.pop(name, None)
        return name

    def unregister(self, name: str) -> bool:
        """Remove a plugin and its recorded problems; True if it was registered."""
        self.errors.pop(name, None)
        self.failed.pop(name, None)
        if self.pm.has_plugin(name):
            self.pm.unregister(name=name)
            return True
        return False

    def fail(self, error: PluginError) -> None:
        """``error.plugin`` cannot work: unregister it, so none of its pages or hooks are used."""
        if self.pm.has_plugin(error.plugin):
            self.pm.unregister(name=error.plugin)
        self.errors[error.plugin] = self.failed[error.plugin] = error

    def entry_point(self, name: str) -> EntryPointPlugin:
        ep = self.entry_points.get(name)
        if ep is None:
            known = ", ".join(sorted(self.entry_points)) or "none"
            raise NotFound(f"no plugin named '{name}' is installed (installed: {known})")
        return ep

    def infos(self) -> list[PluginInfo]:
        """Every installed or registered plugin: version, enabled, failed, hooks."""
        infos = []
        for name, ep in self.entry_points.items():
            plugin = self.pm.get_plugin(name)
            hooks = hooks_of(self.pm, plugin) if plugin is not None else ()
            error = str(self.failed[name]) if name in self.failed else ""
            infos.append(PluginInfo(name, ep.version, plugin is not None, ep.builtin, hooks, ep.distribution, error))
        for name, plugin in self.pm.list_name_plugin():
            if name not in self.entry_points and name != "core":
                infos.append(PluginInfo(name, "", True, False, hooks_of(self.pm, plugin), "(registered)"))
        for name, error in self.failed.items():
            if name not in self.entry_points and not self.pm.has_plugin(name):
                infos.append(PluginInfo(name, "", False, False, (), "(registered)", str(error)))
        return infos

    def collect(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """``(plugin, result)`` of every plugin that answered ``hook_name``; failures are recorded by plugin."""
        results = []
        for name, result, error in call_each(self.pm, hook_name, **kwargs):
            if error is not None:
                self.errors[error.plugin] = error
            elif result is not None:
                results.append((name, result))
        return results

    def implementers(self, hook_name: str) -> list[str]:
        """The registered plugins implementing ``hook_name``, in registration order."""
        impls = getattr(self.pm.hook, hook_name).get_hookimpls()
        return list(dict.fromkeys(impl.plugin_name for impl in impls))

    def call_plugin(self, name: str, hook_name: str, **kwargs: Any) -> list[Any]:
        """Call one plugin's ``hook_name`` (each plugin with its own arguments); a failure is recorded and raised."""
        impls = [impl for impl in getattr(self.pm.hook, hook_name).get_hookimpls() if impl.plugin_name == name]
        try:
            return self.pm._hookexec(hook_name, impls, kwargs, False)
        except Exception as error:
            failure = PluginError(name, hook_name, error)
            self.errors[name] = failure
            raise failure from error


# ------------------------------------------------------------------ calling
def call_each(pm: pluggy.PluginManager, hook_name: str, **kwargs: Any) -> Iterator[tuple[str, Any, PluginError | None]]:
    """Call ``hook_name`` through pluggy, so that one plugin's failure stays that plugin's.

    Yields ``(plugin_name, result, error)`` in pluggy's call order; exactly one of
    result/error is set (result may be ``None`` when a plugin had nothing to
    contribute). Each plain implementation is guarded: if it raises, its answer
    is left out and the others carry on. Wrappers (``wrapper=True``) wrap the
    whole call as pluggy does, and tracing sees it; a result a wrapper adds is
    attributed to that wrapper's plugin. A wrapper that raises loses only what
    it would have changed.
    """
    caller = getattr(pm.hook, hook_name)
    impls = caller.get_hookimpls()
    answers: list[tuple[str, Any]] = []
    failures: list[PluginError] = []
    guarded = [
        impl if impl.wrapper or impl.hookwrapper else _guarded(impl, hook_name, answers, failures) for impl in impls
    ]
    wrappers = [impl.plugin_name for impl in impls if impl.wrapper or impl.hookwrapper]
    firstresult = bool(caller.spec and caller.spec.opts.get("firstresult"))
    try:
        final = pm._hookexec(hook_name, guarded, kwargs, firstresult)
    except Exception as error:
        culprit = _culprit(caller, error)
        yield culprit, None, PluginError(culprit, hook_name, error)
        final = [result for _name, result in answers if result is not None]
    for failure in failures:
        yield failure.plugin, None, failure
    plain = [result for _name, result in answers if result is not None]
    if firstresult or (isinstance(final, list) and [id(r) for r in final] == [id(r) for r in plain]):
        for name, result in answers:
            yield name, result, None
        return
    owners = {id(result): name for name, result in answers}
    for result in final if isinstance(final, list) else [final]:
        yield owners.get(id(result), wrappers[-1] if wrappers else "unknown"), result, None


def _guarded(impl: pluggy.HookImpl, hook_name: str, answers: list, failures: list) -> pluggy.HookImpl:
    """A copy of ``impl`` that records its answer, or its failure instead of raising it."""
    copy = pluggy.HookImpl(impl.plugin, impl.plugin_name, impl.function, impl.opts)
    function, name = impl.function, impl.plugin_name

    def call(*args: Any) -> Any:
        try:
            result = function(*args)
        except Exception as error:
            failures.append(PluginError(name, hook_name, error))
            return None
        answers.append((name, result))
        return result

    copy.function = call
    return copy


def call_strict(pm: pluggy.PluginManager, hook_name: str, **kwargs: Any) -> list[Any]:
    """Call ``hook_name`` through pluggy; a failure raises a PluginError naming the plugin.

    Used on the write path: pluggy does not say which implementation raised, so
    the culprit is found in the traceback.
    """
    caller = getattr(pm.hook, hook_name)
    try:
        return caller(**kwargs)
    except Exception as error:
        raise PluginError(_culprit(caller, error), hook_name, error) from error


def strict_caller(
    pm: pluggy.PluginManager,
    hook_name: str,
    skip: Callable[[Callable[..., Any]], bool] | None = None,
    **bound: Any,
) -> Callable[..., list[Any]]:
    """``call_strict`` for a loop over many records: the implementations are looked up once.

    Calls them in pluggy's order (last registered first, ``tryfirst``/``trylast``
    respected) and collects non-None results, without pluggy's per-call
    bookkeeping, which is most of the cost of a validation hook on a bulk write.
    ``bound`` arguments (``workspace=``) are given to every call. Implementations
    whose function ``skip`` accepts are left out (they would return None for every
    call of this loop). With a wrapper among the implementations, or tracing on,
    every call goes through pluggy instead.
    """
    caller = getattr(pm.hook, hook_name)
    if pm in _TRACED or any(impl.hookwrapper or impl.wrapper for impl in caller.get_hookimpls()):
        return lambda **kwargs: call_strict(pm, hook_name, **bound, **kwargs)
    impls = [
        (impl.function, _picker(impl.argnames))
        for impl in reversed(caller.get_hookimpls())
        if skip is None or not skip(impl.function)
    ]

    def call(**kwargs: Any) -> list[Any]:
        kwargs.update(bound)
        results = []
        try:
            for function, pick in impls:
                result = function(*pick(kwargs))
                if result is not None:
                    results.append(result)
        except Exception as error:
            raise PluginError(_culprit(caller, error), hook_name, error) from error
        return results

    return call


def _picker(names: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """The arguments ``names`` out of a call's keywords, as a tuple (one itemgetter: no loop per call)."""
    if len(names) > 1:
        return itemgetter(*names)
    return (lambda kwargs: (kwargs[names[0]],)) if names else (lambda _kwargs: ())


class WorkspaceHooks:
    """The Store's write-path hooks (crm_workspace/data/actor.py), called with ``workspace=``."""

    def __init__(self, pm: pluggy.PluginManager, workspace: Any):
        self.pm = pm
        self.workspace = workspace

    def validator(self, table: str | None = None) -> Callable[..., list[Any]]:
        """Every ``crm_validate_record`` but those that declare ``tables`` without ``table``."""

        def elsewhere(function: Callable[..., Any]) -> bool:
            tables = getattr(function, "tables", None)
            return table is not None and tables is not None and table not in tables

        return strict_caller(self.pm, "crm_validate_record", elsewhere, workspace=self.workspace)

    def listens_to_changes(self) -> bool:
        return bool(self.pm.hook.crm_record_changed.get_hookimpls())

    def record_changed(self, changes: list[Any]) -> None:
        call_strict(self.pm, "crm_record_changed", workspace=self.workspace, changes=changes)


def _culprit(caller: Any, error: BaseException) -> str:
    codes = {
        impl.function.__code__: impl.plugin_name
        for impl in caller.get_hookimpls()
        if hasattr(impl.function, "__code__")
    }
    tb = error.__traceback__
    while tb is not None:
        name = codes.get(tb.tb_frame.f_code)
        if name is not None:
            return name
        tb = tb.tb_next
    return "unknown"


def hooks_of(pm: pluggy.PluginManager, plugin: Any) -> tuple[str, ...]:
    callers = pm.get_hookcallers(plugin) or []
    return tuple(sorted(caller.name for caller in callers))


def _unknown_hook_message(error: pluggy.PluginValidationError) -> str:
    message = str(error)
    match = re.search(r"unknown hook '([^']+)'", message)
    if match:
        return f"unknown hook '{match.group(1)}' (misspelled? see crm_workspace/hookspecs.py)"
    return message
