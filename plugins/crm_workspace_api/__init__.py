"""JSON API for other systems: tokens, records, search and views over HTTP."""

from __future__ import annotations

from crm_workspace import Setting, hookimpl

from .schema import migrations


@hookimpl
def crm_migrations():
    return migrations


def _rate(value):
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100_000:
        raise ValueError(f"must be a whole number of requests a minute from 1 to 100000, not {value!r}")
    return value


@hookimpl
def crm_settings():
    """How many requests a minute each API token may make."""
    return [Setting("api_rate_limit", _rate, 600, doc="Requests a minute each API token may make (then 429).")]


@hookimpl
def crm_register_commands(cli):
    from .commands import register

    register(cli)


@hookimpl
def crm_routes(workspace):
    """``/api/...`` on ``crm serve``: the same handlers ``crm api`` serves alone."""
    from crm_workspace import Route

    from .endpoints import route_specs
    from .state import ApiState

    return [Route(pattern, handler, kwargs) for pattern, handler, kwargs in route_specs(ApiState())]
