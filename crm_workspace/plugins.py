"""The pluggy plugin manager: discovery, enable/disable, error isolation.

One manager per Workspace (a notebook may open two workspaces; tests need no
register/unregister dance). Plugins are found through the ``crm_workspace``
entry-point group — the built-ins too, exactly like a plugin from PyPI.

Environment:
- ``CRM_PLUGINS=a,b`` loads only the named entry-point plugins (allow-list);
- ``CRM_TRACE_HOOKS=1`` prints every hook call and result to stderr.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import pluggy

from crm_workspace import hookspecs
from crm_workspace.errors import PluginError

PROJECT = "crm_workspace"
DISTRIBUTION = "crm-workspace"


@dataclass(frozen=True)
class EntryPointPlugin:
    name: str
    module: str
    distribution: str
    version: str

    @property
    def builtin(self) -> bool:
        return self.distribution == DISTRIBUTION


def discover(builtins_only: bool = False) -> list[EntryPointPlugin]:
    """Every plugin installed under the entry-point group, built-ins first."""
    allow = os.environ.get("CRM_PLUGINS")
    allowed = {name.strip() for name in allow.split(",")} if allow else None
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


def make_plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    if os.environ.get("CRM_TRACE_HOOKS"):
        pm.trace.root.setwriter(lambda message: print(message, end="", file=sys.stderr))
        pm.enable_tracing()
    return pm


def load(ep: EntryPointPlugin) -> Any:
    """Import an entry point's object."""
    for candidate in metadata.entry_points(group=PROJECT, name=ep.name):
        return candidate.load()
    raise LookupError(ep.name)


def call_each(pm: pluggy.PluginManager, hook_name: str, **kwargs: Any) -> Iterator[tuple[str, Any, PluginError | None]]:
    """Call ``hook_name`` on each plugin separately, so one failure stays one plugin's.

    Yields ``(plugin_name, result, error)``; exactly one of result/error is set
    (result may be ``None`` when a plugin had nothing to contribute).
    """
    caller = getattr(pm.hook, hook_name)
    for impl in reversed(caller.get_hookimpls()):
        args = {name: kwargs[name] for name in impl.argnames}
        try:
            yield impl.plugin_name, impl.function(**args), None
        except Exception as error:
            yield impl.plugin_name, None, PluginError(impl.plugin_name, hook_name, error)


def call_strict(pm: pluggy.PluginManager, hook_name: str, **kwargs: Any) -> list[Any]:
    """Call ``hook_name`` through pluggy's own (fast) loop; a failure raises a PluginError naming the plugin.

    Used on the write path, where it runs once per written row: pluggy does not
    say which implementation raised, so the culprit is found in the traceback.
    """
    caller = getattr(pm.hook, hook_name)
    try:
        return caller(**kwargs)
    except Exception as error:
        raise PluginError(_culprit(caller, error), hook_name, error) from error


def strict_caller(pm: pluggy.PluginManager, hook_name: str) -> Callable[..., list[Any]]:
    """``call_strict`` for a loop over many records: the implementations are looked up once.

    Calls them in pluggy's order (last registered first, ``tryfirst``/``trylast``
    respected) and collects non-None results, without pluggy's per-call
    bookkeeping, which is most of the cost of a validation hook on a bulk write.
    Only for plain hooks (no wrappers, not ``firstresult``).
    """
    caller = getattr(pm.hook, hook_name)
    impls = [(impl.function, impl.argnames) for impl in reversed(caller.get_hookimpls())]
    if any(impl.hookwrapper or impl.wrapper for impl in caller.get_hookimpls()):
        return lambda **kwargs: call_strict(pm, hook_name, **kwargs)

    def call(**kwargs: Any) -> list[Any]:
        results = []
        try:
            for function, argnames in impls:
                result = function(*[kwargs[name] for name in argnames])
                if result is not None:
                    results.append(result)
        except Exception as error:
            raise PluginError(_culprit(caller, error), hook_name, error) from error
        return results

    return call


class WorkspaceHooks:
    """The Store's write-path hooks (crm_workspace/data/actor.py), called with ``workspace=``."""

    def __init__(self, pm: pluggy.PluginManager, workspace: Any):
        self.pm = pm
        self.workspace = workspace

    def validator(self) -> Callable[..., list[Any]]:
        call = strict_caller(self.pm, "crm_validate_record")
        workspace = self.workspace
        return lambda **kwargs: call(workspace=workspace, **kwargs)

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
