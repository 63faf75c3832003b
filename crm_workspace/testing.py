"""Public testing helpers for plugin authors (and this project's own tests).

from crm_workspace.testing import make_workspace, workspace  # noqa: F401  (a pytest fixture)

def test_my_plugin(workspace):
    workspace.register(MyPlugin(), name="my-plugin")
    ...

Also: ``registered(ws, plugin)`` (register for a ``with`` block), ``page_text(obj)``
(the text a person would read on a rendered page, without a browser),
``assert_no_plugin_errors(ws)``, ``route_server(ws)`` (the plugins' HTTP routes on a
real local server), and a real SMTP server for mail tests: ``smtp_server()`` / the
``smtpd`` fixture with ``configure_smtp(ws, port)``.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import itertools
import os
import shutil
import socket
import sqlite3
import tempfile
import threading
from collections.abc import Iterator, Mapping
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from crm_workspace import Workspace

#: Migrated (and demo-filled) databases this process made, by what they were made from.
_TEMPLATES: dict[tuple[Any, ...], Path] = {}
_NUMBERS = itertools.count()


def make_workspace(
    path: str | Path,
    *,
    demo: bool = False,
    builtins: bool = True,
    plugins: tuple[Any, ...] = (),
    user: str = "tester",
    seed: int = 42,
    contacts: int = 300,
) -> Workspace:
    """Open a workspace at ``path``: built-in modules (or none), extra plugins, demo data.

    A new file starts as a copy of a template that this process migrated (and filled, for
    ``demo``) once, so a suite pays for migrations and demo data once per worker, not per
    test. The copy is a new file of its own; ``plugins`` are registered on it (their
    migrations run then) and, when there are any, the demo data is generated with them.
    """
    path = Path(path)
    if path.exists():
        return _build(path, demo=demo, builtins=builtins, plugins=plugins, user=user, seed=seed, contacts=contacts)
    demo_in_template = demo and not plugins  # plugins may react to the demo's writes: generate with them
    template = _template(builtins=builtins, demo=(seed, contacts, user) if demo_in_template else None)
    shutil.copyfile(template, path)
    return _build(
        path,
        demo=demo and not demo_in_template,
        builtins=builtins,
        plugins=plugins,
        user=user,
        seed=seed,
        contacts=contacts,
    )


def _build(
    path: Path, *, demo: bool, builtins: bool, plugins: tuple[Any, ...], user: str, seed: int, contacts: int
) -> Workspace:
    ws = Workspace.open(path, user=user, builtins_only=True, load_plugins=builtins)
    for plugin in plugins:
        ws.register(plugin)
    if demo:
        from crm_workspace.services.demo import DemoSize, generate

        generate(ws, DemoSize.for_contacts(contacts), seed=seed)
    return ws


def _template(*, builtins: bool, demo: tuple[int, int, str] | None) -> Path:
    """A closed, checkpointed database to copy: made on first use, again when the migrations differ."""
    key = (builtins, demo, os.environ.get("CRM_PLUGINS"), _migration_names(builtins))
    template = _TEMPLATES.get(key)
    if template is None or not template.exists():
        template = _template_dir() / f"template-{next(_NUMBERS)}.db"
        seed, contacts, user = demo or (0, 0, "tester")
        _build(
            template, demo=demo is not None, builtins=builtins, plugins=(), user=user, seed=seed, contacts=contacts
        ).close()
        conn = sqlite3.connect(template)  # the last connection to close folds the WAL into the file
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        _TEMPLATES[key] = template
    return template


def _migration_names(builtins: bool) -> tuple[str, ...]:
    """Every migration a new workspace applies (the core's, the loaded built-ins'): a template's key."""
    from importlib.metadata import EntryPoint

    from crm_workspace.data import schema

    sets: list[Any] = [schema.migrations]
    for value in _builtin_plugins(os.environ.get("CRM_PLUGINS")) if builtins else ():
        try:
            sets.append(EntryPoint(name="", value=value, group="").load().crm_migrations())
        except Exception:
            sets.append(None)  # no migrations, or a failing plugin: the workspace reports it
    empty = sqlite_utils.Database(memory=True)
    return tuple(f"{s.name}:{m.name}" for s in sets if s is not None for m in s.pending(empty))


@functools.cache
def _builtin_plugins(allow_list: str | None) -> tuple[str, ...]:
    """The built-in entry points' values under ``$CRM_PLUGINS``, found once per process (a slow scan)."""
    from crm_workspace import plugins as plugin_host

    return tuple(ep.module for ep in plugin_host.discover(builtins_only=True))


@functools.cache
def _template_dir() -> Path:
    """This process's folder of templates (one per pytest-xdist worker), removed at exit."""
    folder = Path(tempfile.mkdtemp(prefix="crm-workspace-templates-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    """An empty workspace with the built-in modules, in a temporary directory."""
    ws = make_workspace(tmp_path / "crm.db")
    yield ws
    ws.close()


@pytest.fixture
def demo_workspace(tmp_path: Path) -> Iterator[Workspace]:
    """A workspace with the built-in modules and the standard demo data."""
    ws = make_workspace(tmp_path / "crm.db", demo=True)
    yield ws
    ws.close()


@contextlib.contextmanager
def registered(ws: Workspace, plugin: Any, name: str | None = None) -> Iterator[str]:
    """Register ``plugin`` on ``ws`` for the ``with`` block, then unregister it."""
    registered_name = ws.register(plugin, name=name)
    try:
        yield registered_name
    finally:
        ws.unregister(registered_name)


class RouteServer:
    """A real HTTP server on a free loopback port serving a workspace's plugin routes (``route_server``)."""

    def __init__(self, port: int):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    def request(
        self, method: str, path: str, body: bytes | str | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any, bytes]:
        """``(status, headers, body)`` of one request; redirects are not followed."""
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body.encode() if isinstance(body, str) else body, headers or {})
            response = conn.getresponse()
            return response.status, response.msg, response.read()
        finally:
            conn.close()


@contextlib.contextmanager
def route_server(ws: Workspace) -> Iterator[RouteServer]:
    """Serve ``ws``'s plugin routes (``crm_routes``) exactly as ``crm serve`` mounts them, for the ``with`` block.

    Tornado runs in a thread on a free port; each handler gets ``ws`` acting as
    ``system:<plugin>``. Test a plugin's API, links and forms over real HTTP
    without starting the whole app.
    """
    import asyncio
    import threading

    import tornado.httpserver
    import tornado.netutil
    import tornado.web

    from crm_workspace.web.server import route_patterns

    patterns = route_patterns(ws)
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def serve() -> None:
        sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
        server = tornado.httpserver.HTTPServer(tornado.web.Application(patterns))
        server.add_sockets(sockets)
        box["port"] = sockets[0].getsockname()[1]
        box["loop"], box["stop"] = asyncio.get_running_loop(), asyncio.Event()
        ready.set()
        await box["stop"].wait()
        server.stop()

    thread = threading.Thread(target=lambda: asyncio.run(serve()), name="crm-route-server", daemon=True)
    thread.start()
    if not ready.wait(30):
        raise RuntimeError("the route server did not start")
    try:
        yield RouteServer(box["port"])
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(10)


def page_text(obj: Any) -> str:
    """The text a person would read in a Panel object (a page, a pane, a layout), newline-separated.

    Walks layouts and ``Viewer`` objects, evaluates bound functions and
    ``param.depends`` methods, and reads Markdown/HTML/Alert text, widget names
    and values, and the cells of tables (ListTable, Tabulator) and DataFrame panes, so a plugin's page can
    be tested without a server or a browser.
    """
    import panel as pn

    from crm_workspace.web.list_table import ListTable

    parts: list[str] = []
    # visited objects by id, kept alive: the walk makes temporary objects (bound functions'
    # results), and a freed one's id may be reused by the next, which was then skipped
    seen: dict[int, Any] = {}

    def walk(item: Any, depth: int = 0) -> None:
        if item is None or depth > 50 or id(item) in seen:
            return
        seen[id(item)] = item
        if isinstance(item, str):
            parts.append(item)
            return
        if isinstance(item, pn.viewable.Viewer):
            walk(item.__panel__(), depth + 1)
            return
        if not isinstance(item, pn.viewable.Viewable):
            walk(pn.panel(item), depth + 1)
            return
        if isinstance(item, pn.param.ParamFunction | pn.param.ParamMethod):
            walk(item.eval(item.object), depth + 1)
            return
        if isinstance(item, pn.widgets.Tabulator | ListTable | pn.pane.DataFrame):
            frame = item.object if isinstance(item, pn.pane.DataFrame) else item.value
            parts.append(frame.to_string(index=False) if frame is not None else "")
            return
        if isinstance(item, pn.widgets.Widget):
            parts.extend(str(v) for v in (getattr(item, "name", ""), getattr(item, "value", "")) if v not in ("", None))
            return
        if isinstance(item, pn.pane.PaneBase):
            if isinstance(item.object, str):
                parts.append(item.object)
            return
        for child in getattr(item, "objects", []) or []:
            walk(child, depth + 1)

    walk(obj)
    return "\n".join(part for part in parts if part)


def assert_no_plugin_errors(ws: Workspace) -> None:
    """Fail with every plugin problem the workspace recorded (failed hooks, duplicate pages)."""
    errors = ws.plugin_errors()
    assert not errors, "plugin errors:\n" + "\n".join(str(e) for e in errors)


# ----------------------------------------------------------------- SMTP
_REPLIES = {421: "Service not available", 450: "Mailbox busy", 451: "Try again later", 550: "No such user"}


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpServer:
    """The messages an aiosmtpd server received: ``messages`` (EmailMessage), ``envelopes`` ((from, [to]))."""

    def __init__(self, refuse: Mapping[str, int] | None = None):
        self.refuse = {address.lower(): code for address, code in (refuse or {}).items()}
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.host = "127.0.0.1"
        self.port = 0
        self._lock = threading.Lock()

    # aiosmtpd handler hooks
    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list) -> str:
        code = self.refuse.get(address.lower())
        if code:
            return f"{code} {_REPLIES.get(code, 'Refused')}: {address}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, _class=EmailMessage, policy=email_policy.default)
        with self._lock:
            self.messages.append(message)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"

    def recipients(self) -> list[str]:
        """Every envelope recipient of every received message, in order."""
        return [to for _, tos in self.envelopes for to in tos]


@contextlib.contextmanager
def smtp_server(
    refuse: Mapping[str, int] | None = None,
    *,
    login: tuple[str, str] | None = None,
    tls: Any = None,
    implicit_tls: bool = False,
) -> Iterator[SmtpServer]:
    """An aiosmtpd SMTP server on 127.0.0.1 and a free port for the ``with`` block.

    ``login=(user, password)`` makes it require SMTP AUTH (over plain SMTP: a test server).
    ``tls`` (a server ``ssl.SSLContext``) makes it require STARTTLS, or speak TLS from
    the first byte with ``implicit_tls`` (``smtp_security`` "ssl").
    """
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    def authenticate(server_: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        given = (data.login.decode(), data.password.decode()) if hasattr(data, "login") else None
        return AuthResult(success=given == login, handled=False)

    server = SmtpServer(refuse)
    server.port = free_port()
    options: dict[str, Any] = {"data_size_limit": None}
    if login is not None:
        options |= {"authenticator": authenticate, "auth_required": True, "auth_require_tls": False}
    if tls is not None:
        options |= {"ssl_context": tls} if implicit_tls else {"tls_context": tls, "require_starttls": True}
    controller = Controller(server, hostname=server.host, port=server.port, **options)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


@pytest.fixture
def smtpd() -> Iterator[SmtpServer]:
    """A running SMTP server collecting what it receives (see ``smtp_server``)."""
    with smtp_server() as server:
        yield server


def configure_smtp(workspace: Any, port: int, host: str = "127.0.0.1") -> None:
    """Point ``workspace``'s mail settings at a local test server (plain SMTP, no login)."""
    workspace.set_setting("smtp_host", host)
    workspace.set_setting("smtp_port", int(port))
    workspace.set_setting("smtp_security", "none")
    workspace.set_setting("smtp_user", "")
