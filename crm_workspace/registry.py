"""What the enabled plugins contribute, gathered: pages, metrics, record sections, views, aliases, search, routes.

The Workspace's collecting methods are these functions over its plugin host
(crm_workspace/plugins.py). Every hook is called through the host, so a plugin
that raises loses only its own contribution and is reported by name.
"""

from __future__ import annotations

import functools
import inspect
import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from crm_workspace.errors import CrmError, PluginError
from crm_workspace.types import ApiResource, Metric, Page, RecordSection, Route

if TYPE_CHECKING:
    import pandas

    from crm_workspace.plugins import PluginHost


def _with_plugin(item: Any, plugin: str) -> Any:
    return item if item.plugin else replace(item, plugin=plugin)


def pages(host: PluginHost, workspace: Any) -> list[Page]:
    """Every enabled plugin's dashboard pages, in navigation order; a name taken twice is reported."""
    found: dict[str, Page] = {}
    # in registration order (built-ins first): the first plugin to claim a name keeps it
    for plugin, contributed in reversed(host.collect("crm_dashboards", workspace=workspace)):
        for page in contributed:
            if page.name in found:
                owner = found[page.name].plugin
                taken = ValueError(f"page name '{page.name}' is already taken by '{owner}'")
                host.errors[plugin] = PluginError(plugin, "crm_dashboards", taken)
                continue
            found[page.name] = _with_plugin(page, plugin)
    return sorted(found.values(), key=lambda p: (p.order, p.name))


def api_resources(host: PluginHost, workspace: Any) -> list[ApiResource]:
    """Every enabled plugin's API resources by name; a name taken twice is reported, the first kept."""
    found: dict[str, ApiResource] = {}
    for plugin, contributed in reversed(host.collect("crm_api_resources", workspace=workspace)):
        for resource in contributed:
            if resource.name in found:
                taken = ValueError(
                    f"API resource '{resource.name}' is already served by '{found[resource.name].plugin}'"
                )
                host.errors[plugin] = PluginError(plugin, "crm_api_resources", taken)
                continue
            found[resource.name] = _with_plugin(resource, plugin)
    return sorted(found.values(), key=lambda r: r.name)


def metrics(host: PluginHost, workspace: Any) -> list[Metric]:
    """KPI cards from every plugin's ``crm_metrics``."""
    return [
        _with_plugin(metric, plugin)
        for plugin, contributed in host.collect("crm_metrics", workspace=workspace)
        for metric in contributed
    ]


def record_sections(host: PluginHost, workspace: Any, table: str, record_id: int) -> list[RecordSection]:
    """Sections other plugins add to a record's page, in their order."""
    sections = [
        _with_plugin(section, plugin)
        for plugin, found in host.collect("crm_record_sections", workspace=workspace, table=table, record_id=record_id)
        for section in found
    ]
    return sorted(sections, key=lambda s: s.order)


def data_views(host: PluginHost, workspace: Any) -> dict[str, Any]:
    """Named DataFrame views by name (``ws.df(name)``); wrong arguments are one clear error."""
    views: dict[str, Any] = {}
    for _plugin, found in host.collect("crm_data_views", workspace=workspace):
        views.update({name: _checked(name, fn) for name, fn in found.items()})
    return views


def _checked(name: str, fn: Any) -> Any:
    """``fn``, refusing arguments its signature does not take with a line naming the ones it does."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return fn

    @functools.wraps(fn)
    def view(*args: Any, **params: Any) -> Any:
        try:
            signature.bind(*args, **params)
        except TypeError as error:
            takes = view_parameters(fn) or "no parameters"
            raise CrmError(f"view '{name}' takes {takes} ({error})") from None
        return fn(*args, **params)

    return view


def view_parameters(fn: Any) -> str:
    """A view's parameters as a person reads them: ``id (required), table='contacts', limit=100``."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return ""
    shown = []
    for parameter in parameters:
        if parameter.kind is parameter.VAR_POSITIONAL:
            continue
        if parameter.kind is parameter.VAR_KEYWORD:
            shown.append(f"**{parameter.name}")
        elif parameter.default is parameter.empty:
            shown.append(f"{parameter.name} (required)")
        else:
            shown.append(f"{parameter.name}={parameter.default!r}")
    return ", ".join(shown)


def views_frame(host: PluginHost, workspace: Any) -> pandas.DataFrame:
    """Every named view: name, plugin, the parameters it takes, the first line of its docstring."""
    import pandas as pd

    rows = [
        {
            "name": name,
            "plugin": plugin,
            "parameters": view_parameters(fn),
            "description": (inspect.getdoc(fn) or "").split("\n")[0],
        }
        for plugin, found in host.collect("crm_data_views", workspace=workspace)
        for name, fn in found.items()
    ]
    columns = ["name", "plugin", "parameters", "description"]
    return pd.DataFrame(rows, columns=columns).sort_values("name", ignore_index=True)


def field_aliases(host: PluginHost) -> dict[str, dict[str, list[str]]]:
    """Import header aliases by entity and field, every plugin's merged."""
    merged: dict[str, dict[str, list[str]]] = {}
    for _plugin, aliases in host.collect("crm_field_aliases"):
        for entity, fields in aliases.items():
            for name, names in fields.items():
                merged.setdefault(entity, {}).setdefault(name, []).extend(names)
    return merged


def search(host: PluginHost, workspace: Any, query: str, limit: int) -> pandas.DataFrame:
    """Every module's hits for ``query``, best first."""
    import pandas as pd

    frames = [frame for _p, frame in host.collect("crm_search", workspace=workspace, query=query, limit=limit)]
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=["type", "id", "title", "subtitle", "rank"])
    return pd.concat(frames, ignore_index=True).sort_values("rank", kind="stable").head(limit).reset_index(drop=True)


#: First path segments the served app owns (Panel, Bokeh, the login): no plugin route may start with one.
RESERVED_SEGMENTS = frozenset(
    {
        "",
        "login",
        "logout",
        "static",
        "panel-preview",
        "components",
        "ws",
        "metadata",
        "autoload.js",
        "favicon.ico",
        "liveness",
        "rest",
        "admin",
        "panel_dist",
    }
)
_LITERAL_SEGMENT = re.compile(r"^/([A-Za-z0-9._~-]+)(?:/|$)")


def route_problem(route: Route, taken: dict[str, str]) -> str | None:
    """Why ``route`` may not be mounted (it would shadow the app or another plugin's route), or None."""
    pattern = route.pattern
    if not isinstance(pattern, str) or not pattern.startswith("/"):
        return f"route pattern {pattern!r} must start with '/'"
    match = _LITERAL_SEGMENT.match(pattern)
    if match is None:
        return f"route pattern {pattern!r} must start with a literal segment of its own, such as '/api/...'"
    if match.group(1).lower() in RESERVED_SEGMENTS:
        return f"route pattern {pattern!r} would shadow the app's own '/{match.group(1)}'"
    try:
        re.compile(pattern)
    except re.error as error:
        return f"route pattern {pattern!r} is not a valid regular expression ({error})"
    if pattern in taken:
        return f"route pattern {pattern!r} is already served by '{taken[pattern]}'"
    handler = route.handler
    if not isinstance(handler, type) or not any(
        cls.__module__ == "tornado.web" and cls.__name__ == "RequestHandler" for cls in handler.__mro__
    ):
        return f"route {pattern!r}: the handler must be a tornado.web.RequestHandler subclass, not {handler!r}"
    return None


def routes(host: PluginHost, workspace: Any) -> list[Route]:
    """Every enabled plugin's HTTP routes; a route that would shadow the app or another plugin's is reported."""
    found: list[Route] = []
    taken: dict[str, str] = {}
    for plugin, contributed in reversed(host.collect("crm_routes", workspace=workspace)):
        problems = []
        for route in contributed:
            route = _with_plugin(route, plugin)
            problem = route_problem(route, taken)
            if problem is not None:
                problems.append(problem)
                continue
            taken[route.pattern] = plugin
            found.append(route)
        if problems:  # every refused route named in the plugin's one error
            host.errors[plugin] = PluginError(plugin, "crm_routes", ValueError("; ".join(problems)))
    return found
