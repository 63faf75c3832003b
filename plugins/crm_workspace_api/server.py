"""``crm api``: the API's handlers alone, in a tornado application on their own port."""

from __future__ import annotations

import contextlib
from typing import Any

from .endpoints import route_specs
from .state import ApiState


def system_workspace(workspace: Any) -> Any:
    """The workspace acting as the system (token lookups, last-use stamps): never a browser's."""
    as_system = getattr(workspace, "as_system", None)
    return as_system("api") if as_system else workspace


def make_app(workspace: Any, **settings: Any) -> Any:
    """A tornado Application serving ``/api/`` over ``workspace`` (its ``state`` in ``app.api_state``)."""
    import tornado.web

    state = ApiState(system_workspace(workspace))
    app = tornado.web.Application(route_specs(state), **settings)
    app.api_state = state
    return app


def serve(workspace: Any, *, port: int, address: str) -> None:
    import asyncio
    import sys

    import tornado.httpserver

    async def main() -> None:
        app = make_app(workspace)
        server = tornado.httpserver.HTTPServer(app, max_body_size=64 * 1024 * 1024, xheaders=True)
        server.listen(port, address)
        shown = "localhost" if address == "127.0.0.1" else address
        print(f"crm-workspace API on http://{shown}:{port}/api/ (description: /api/openapi.json)", flush=True)
        if address not in ("127.0.0.1", "localhost", "::1"):
            print(
                f"note: serving on {address} over plain http: bearer tokens are passwords; put https in front "
                "(a reverse proxy) before it leaves a trusted network",
                file=sys.stderr,
                flush=True,
            )
        await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
