"""Serving the app with Panel's server (imported only by ``crm serve``)."""

from __future__ import annotations

import sys

import panel as pn

from .app import base_workspace, configure, session_app


def serve(*, port: int, address: str, show: bool, num_procs: int = 1) -> None:
    if address not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"WARNING: serving on {address}: anyone who can reach this address can read and change the CRM data",
            file=sys.stderr,
        )
    configure(base_workspace())
    origins = [f"localhost:{port}", f"127.0.0.1:{port}", f"{address}:{port}"]
    print(f"crm-workspace serving on http://{'localhost' if address == '127.0.0.1' else address}:{port}", flush=True)
    pn.serve(
        {"/": session_app},
        port=port,
        address=address,
        show=show,
        num_procs=num_procs,
        websocket_origin=origins,
        title="crm-workspace",
        threaded=False,
    )
