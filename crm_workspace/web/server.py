"""Serving the app with Panel's server (imported only by ``crm serve``)."""

from __future__ import annotations

import dataclasses
import gc
import os
import sys
from typing import Any

import panel as pn

from crm_workspace.services.http import SERVER_MAX_BODY_BYTES
from crm_workspace.web.session import ServeConfig, base_workspace, configure, session_app
from crm_workspace.workspace import Workspace


def serve(config: ServeConfig, *, port: int, address: str, show: bool, num_procs: int = 1, tick: bool = True) -> None:
    """Serve the app over ``config.path``; sessions get ``config`` (with ``login`` set when one is required).

    Every enabled plugin's ``crm_routes`` are mounted beside the app; with ``tick``
    (and one process) a background thread runs the plugins' ``crm_tick``.
    """
    workspace = base_workspace(config.path, user=config.user)
    auth_options = _auth_options(workspace.path, address, config.user)
    config = dataclasses.replace(config, login=True)  # the login may become required while serving
    configure(workspace)
    routes = route_patterns(workspace)
    # SQLite connections must not cross a fork (--num-procs): close them; each process reopens lazily.
    workspace.close()
    # Everything loaded so far lives as long as the server: keep it out of the garbage
    # collector's scans, which otherwise grow with every open session; and collect less
    # often, since a session's build allocates tens of thousands of objects that live on.
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
    # Bokeh checks every new session's document for model mistakes and only logs what it finds:
    # ~8 ms of each ~200 ms session open. Development turns it back on with BOKEH_VALIDATE_DOC=true.
    os.environ.setdefault("BOKEH_VALIDATE_DOC", "false")
    _only_the_bundles_used()
    origins = [f"localhost:{port}", f"127.0.0.1:{port}", f"{address}:{port}"]
    print(f"crm-workspace serving on http://{'localhost' if address == '127.0.0.1' else address}:{port}", flush=True)

    def app() -> pn.viewable.Viewable:
        return session_app(config)

    if tick and num_procs == 1:
        from crm_workspace.services.scheduler import Ticker

        Ticker(workspace.path, config.user).start()
    elif tick:
        print("no background ticks with --num-procs > 1: run `crm tick` from cron instead", file=sys.stderr, flush=True)

    pn.serve(
        {"/": app},
        port=port,
        address=address,
        show=show,
        num_procs=num_procs,
        websocket_origin=origins,
        title="crm-workspace",
        threaded=False,
        extra_patterns=routes,
        http_server_kwargs={"max_body_size": SERVER_MAX_BODY_BYTES},
        **auth_options,
    )


def _only_the_bundles_used() -> None:
    """Leave out of the pages the Bokeh bundles no built-in page uses: MathJax unless a page's
    plugin asks for ``mathjax``, and WebGL (no chart here draws with ``output_backend="webgl"``).

    Panel adds MathJax (1.8 MB, a tenth of a second of every page load in the browser) to any
    page with an HTML or Markdown pane, in case the text holds TeX; loaded, it typesets
    whatever looks like TeX in those panes, customers' own text included. Bokeh's WebGL
    bundle (0.2 MB) is loaded by every page and used by none.
    """
    import panel.io.server as panel_server
    from panel.config import panel_extension

    bundle = panel_server.bundle_resources

    def bundle_resources(roots: Any, resources: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("enable_mathjax", "mathjax" in panel_extension._loaded_extensions)
        if "bokeh-gl" in getattr(resources, "components", ()):
            resources = resources.clone(components=[c for c in resources.components if c != "bokeh-gl"])
        return bundle(roots, resources, *args, **kwargs)

    panel_server.bundle_resources = bundle_resources


def route_patterns(workspace: Workspace) -> list[tuple]:
    """Tornado patterns of every plugin's routes, each handler given the workspace acting as its plugin's system.

    Routes that would shadow the app or another plugin's route are refused by
    ``workspace.routes()`` (crm_workspace/registry.py) and reported here, once.
    """
    known = {id(error) for error in workspace.plugin_errors()}
    systems: dict[str, Workspace] = {}
    patterns = []
    for route in workspace.routes():
        if route.plugin not in systems:
            systems[route.plugin] = workspace.as_system(route.plugin)
        system = systems[route.plugin]
        patterns.append((route.pattern, route.handler, {**route.kwargs, "workspace": system}))
    for error in workspace.plugin_errors():
        if id(error) not in known:
            print(f"warning: {error}", file=sys.stderr, flush=True)
    return patterns


def _auth_options(db_path: str, address: str, user: str | None = None) -> dict:
    """The login backed by the users table (crm_workspace/web/auth.py), always installed.

    It asks for a login only while some active user has a password, checked at every
    request: a password given while the server runs takes effect without a restart.
    """
    from crm_workspace.web import auth

    options = {"auth_provider": auth.make_provider(db_path), "cookie_secret": auth.cookie_secret(db_path)}
    if auth.login_required(db_path):
        print(f"login required (users with passwords in {db_path}); sessions last {auth.SESSION_HOURS:g} h", flush=True)
    elif address not in ("127.0.0.1", "localhost", "::1"):
        bar = "!" * 78
        print(
            f"{bar}\nWARNING: serving on {address} WITHOUT LOGIN: anyone who can reach this address can read,\n"
            f"change and erase the CRM data, acting as '{user or 'the server user'}', until a user has a password.\n"
            f"Give users passwords: crm users add NAME --role admin (or crm users passwd NAME).\n{bar}",
            file=sys.stderr,
            flush=True,
        )
    return options
