"""Plugin routes (crm_routes): mounted by `crm serve` beside the app, RouteHandler's defaults, the system actor,
no secret of a URL or header in a log.

The served test starts `crm serve` on a workspace whose users have passwords, with a plugin
installed the way pip installs one (a dist-info with an entry point, on PYTHONPATH).
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import sqlite3
import time
from pathlib import Path

import pytest
from helpers import CRM, Server, install_plugin

from crm_workspace import PermissionDenied, Route, ValidationError, Workspace, hookimpl
from crm_workspace.data import permissions
from crm_workspace.errors import CrmError
from crm_workspace.services.http import RateLimiter, RouteHandler, redact_path
from crm_workspace.testing import make_workspace, registered, route_server

pytestmark = pytest.mark.xdist_group("routes")

PROBE = '''
"""A plugin with HTTP routes and a tick, installed for the served test."""
from crm_workspace import Route, hookimpl
from crm_workspace.services.http import RateLimiter, RouteHandler

limiter = RateLimiter(3)


class WhoAmI(RouteHandler):
    def get(self):
        self.write_json(200, {"user": self.workspace.user, "system": self.workspace.system,
                              "greeting": self.route_kwargs.get("greeting")})

    def post(self):
        row = self.workspace.store.insert("organizations", {"name": self.json_body()["name"]})
        self.write_json(201, {"id": row["id"]})


class Hello(RouteHandler):
    frame_ancestors = "https://www.example.com"

    def get(self, name):
        self.write_page("Hello <friend>", "<p>fine</p>")


class Limited(RouteHandler):
    def get(self):
        if self.check_rate(limiter):
            self.write_json(200, {"ok": True})


class Small(RouteHandler):
    max_body_bytes = 100
    json_errors = True

    def prepare(self):
        super().prepare()
        if not self.answered and self.request.headers.get("X-Key") != "k":
            self.write_json(401, {"error": "no key"})

    def post(self):
        self.write_json(200, {"size": len(self.request.body)})


@hookimpl
def crm_routes(workspace):
    return [
        Route("/probe/whoami", WhoAmI, {"greeting": "hi"}),
        Route("/probe/hello/([a-z]+)", Hello),
        Route("/probe/limited", Limited),
        Route("/probe/small", Small),
        Route("/login", WhoAmI),
        Route("/static/probe", WhoAmI),
        Route("/(.*)", WhoAmI),
    ]


@hookimpl
def crm_tick(workspace, now):
    workspace.store.insert("organizations", {"name": "ticked"})
'''


def install_probe(site: Path) -> None:
    """A pip-installed plugin, as importlib.metadata finds one: a module and a dist-info with its entry point."""
    install_plugin(site, "crm_route_probe", PROBE, {"route-probe": "crm_route_probe"})


def request(port: int, path: str, method: str = "GET", body: bytes | None = None, headers: dict | None = None):
    """(status, headers, body) of one request; redirects not followed."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body, headers or {})
        response = conn.getresponse()
        return response.status, response.msg, response.read()
    finally:
        conn.close()


# ------------------------------------------------------------------ served
@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("routes")
    install_probe(root / "site")
    db = root / "crm.db"
    ws = make_workspace(db)
    ws.store.insert(
        "users", {"username": "ana", "role": "admin", "password_hash": permissions.hash_password("s3cret-pw")}
    )
    ws.close()
    env = {"PYTHONPATH": os.pathsep.join([str(root / "site"), os.environ.get("PYTHONPATH", "")])}
    server = Server(db, env=env, ready_path="probe/whoami")
    yield server
    server.stop()


def test_a_plugin_route_answers_without_the_login_as_the_system(served):
    status, headers, body = request(served.port, "/probe/whoami")
    assert status == 200
    assert json.loads(body) == {"user": "system:route-probe", "system": True, "greeting": "hi"}
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    # the app itself still asks for the login
    status, headers, _ = request(served.port, "/")
    assert status == 302 and "login" in headers["Location"]


def test_a_routes_writes_are_audited_under_its_system_name(served):
    status, _, _ = request(served.port, "/probe/whoami", "POST", b'{"name": "Posted Org"}')
    assert status == 201
    conn = sqlite3.connect(served.db)
    try:
        users = {row[0] for row in conn.execute("SELECT user FROM audit_log WHERE table_name = 'organizations'")}
    finally:
        conn.close()
    assert "system:route-probe" in users


def test_routes_shadowing_the_app_are_refused_and_the_app_keeps_its_own(served):
    log = served.log.read_text()
    assert "would shadow the app's own '/login'" in log
    assert "would shadow the app's own '/static'" in log
    assert "must start with a literal segment" in log
    status, _, body = request(served.port, "/login")
    assert status == 200 and b"password" in body.lower() and b"system:" not in body
    assert request(served.port, "/static/probe")[0] == 404


def test_a_page_is_plain_escaped_and_locked_down(served):
    status, headers, body = request(served.port, "/probe/hello/you")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    text = body.decode()
    assert "<title>Hello &lt;friend&gt;</title>" in text and "<p>fine</p>" in text
    assert "<script" not in text and "<link" not in text and "src=" not in text
    csp = headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "'unsafe-inline'" not in csp and "script-src" not in csp
    assert "frame-ancestors https://www.example.com" in csp and "X-Frame-Options" not in headers
    assert request(served.port, "/probe/whoami")[1]["X-Frame-Options"] == "DENY"
    assert request(served.port, "/probe/hello/NOPE")[0] == 404  # the pattern's own regex


def test_a_body_over_the_limit_is_413_and_a_burst_is_429(served):
    status, _, body = request(served.port, "/probe/small", "POST", b"x" * 500, {"X-Key": "k"})
    assert status == 413 and "too large" in json.loads(body)["error"]
    assert request(served.port, "/probe/small", "POST", b"x" * 500)[0] == 413  # the limit comes first
    assert request(served.port, "/probe/small", "POST", b"x" * 50)[0] == 401
    assert request(served.port, "/probe/small", "POST", b"x" * 50, {"X-Key": "k"})[0] == 200
    statuses = [request(served.port, "/probe/limited")[0] for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


def test_the_background_tick_runs_as_the_system(served):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        conn = sqlite3.connect(served.db)
        try:
            found = conn.execute(
                "SELECT count(*) FROM audit_log a JOIN organizations o ON o.id = a.row_id"
                " WHERE a.table_name = 'organizations' AND o.name = 'ticked' AND a.user = 'system:route-probe'"
            ).fetchone()[0]
        finally:
            conn.close()
        if found:
            return
        time.sleep(0.3)
    pytest.fail(f"no tick ran within 60 s: {served.log.read_text()}")


# ------------------------------------------------------------- in-process
class Echo(RouteHandler):
    json_errors = True

    def get(self, what):
        if what == "missing":
            raise CrmError("never shown as a traceback")
        if what == "boom":
            raise RuntimeError("secret internals")
        self.write_json(200, {"ip": self.client_ip, "user": self.workspace.user})


@pytest.fixture
def tornado_server(tmp_path):
    """The public helper: a registered plugin's routes on a real local Tornado server."""
    ws = make_workspace(tmp_path / "crm.db", builtins=False)

    class Plugin:
        @hookimpl
        def crm_routes(self, workspace):
            return [Route("/echo/([a-z]+)", Echo)]

    ws.register(Plugin(), name="echoer")
    with route_server(ws) as server:
        assert server.request("GET", "/echo/me")[0] == 200
        yield server.port
    ws.close()


def test_errors_are_answered_in_the_handlers_format_without_a_traceback(tornado_server):
    status, _, body = request(tornado_server, "/echo/me")
    assert status == 200 and json.loads(body) == {"ip": "127.0.0.1", "user": "system:echoer"}
    status, _, body = request(tornado_server, "/echo/missing")
    assert status == 400 and json.loads(body) == {"error": "never shown as a traceback"}
    status, _, body = request(tornado_server, "/echo/boom")
    assert status == 500 and b"secret internals" not in body and b"Traceback" not in body


def test_route_patterns_that_would_shadow_the_app_are_refused(tmp_path):
    class Routes:
        @hookimpl
        def crm_routes(self, workspace):
            return [
                Route("/api/v1/things", Echo),
                Route("/", Echo),
                Route("/logout", Echo),
                Route("/ws", Echo),
                Route("/api(.*)", Echo),
                Route("api/x", Echo),
                Route("/api/v1/things", Echo),
                Route("/plain", object),
            ]

    ws = make_workspace(tmp_path / "crm.db", builtins=False)
    with registered(ws, Routes(), name="router"):
        assert [(r.pattern, r.plugin) for r in ws.routes()] == [("/api/v1/things", "router")]
        error = {e.plugin: e for e in ws.plugin_errors()}["router"]
        assert error.hook == "crm_routes"

    class Other:
        @hookimpl
        def crm_routes(self, workspace):
            return [Route("/api/v1/things", Echo)]

    class Broken:
        @hookimpl
        def crm_routes(self, workspace):
            raise RuntimeError("no routes today")

    with (
        registered(ws, Routes(), name="router"),
        registered(ws, Other(), name="other"),
        registered(ws, Broken(), name="broken"),
    ):
        assert [r.plugin for r in ws.routes()] == ["router"]  # the first to register keeps its pattern
        errors = {e.plugin: str(e) for e in ws.plugin_errors()}
        assert "already served by 'router'" in errors["other"]
        assert "no routes today" in errors["broken"]
    ws.close()


def test_rate_limiter_refills_over_time():
    now = [0.0]
    limiter = RateLimiter(2, clock=lambda: now[0])
    assert [limiter.allow("a"), limiter.allow("a"), limiter.allow("a")] == [True, True, False]
    assert limiter.allow("b")  # per client
    assert limiter.wait("a") == pytest.approx(30.0)
    now[0] = 30.0
    assert limiter.allow("a") and not limiter.allow("a")
    with pytest.raises(CrmError):
        RateLimiter(0)


# ------------------------------------------------------------- system actor
def test_as_system_has_full_rights_and_is_audited_by_name(tmp_path):
    ws = make_workspace(tmp_path / "crm.db", builtins=False, user="ana")
    ws.store.insert("users", {"username": "ana", "role": "admin"})
    ws.store.insert("users", {"username": "vic", "role": "viewer"})
    viewer = ws.as_user("vic")
    with pytest.raises(PermissionDenied):
        viewer.store.insert("organizations", {"name": "Nope"})
    system = viewer.as_system("marketing")
    assert system.user == "system:marketing" and system.system and not system.read_only
    row = system.store.insert("organizations", {"name": "Made by a tick"})
    system.set_setting("members_edit_all", False)  # an admin-only setting
    audit = ws.query(
        "SELECT user, table_name FROM audit_log WHERE row_id = ? AND table_name = 'organizations'", [row["id"]]
    )
    assert audit == [{"user": "system:marketing", "table_name": "organizations"}]
    with pytest.raises(CrmError):
        ws.as_system("")
    ws.close()


def test_nothing_but_as_system_obtains_the_system(tmp_path):
    from crm_workspace.web.session import open_session

    ws = make_workspace(tmp_path / "crm.db", builtins=False, user="ana")
    # even in setup mode (no users yet), a system name claimed as a user has no rights
    claimed = Workspace.open(ws.path, user="system:marketing", load_plugins=False)
    assert not claimed.system and claimed.read_only
    with pytest.raises(PermissionDenied, match="system name"):
        claimed.store.insert("organizations", {"name": "Nope"})
    claimed.close()
    ws.store.insert("users", {"username": "ana", "role": "admin"})
    # no user may be named system:..., by the Store or the CLI
    for name in ("system:x", "SYSTEM:x"):
        with pytest.raises(ValidationError, match="reserved"):
            ws.store.insert("users", {"username": name, "role": "admin"})
    with pytest.raises(CrmError, match="reserved"):
        permissions.check_username("system:x")
    # a served session configured (or picked) as a system name gets nothing
    session, guard = open_session(ws.path, user="system:web")
    assert guard.state is None and not session.system
    # a system workspace switched to another user loses the flag
    system = ws.as_system("tick")
    system.user = "ana"
    assert not system.system and system.as_user("system:tick").read_only
    ws.close()


def test_the_cli_refuses_a_system_username(tmp_path):
    import subprocess

    ws = make_workspace(tmp_path / "crm.db", builtins=False, user="ana")
    ws.close()
    done = subprocess.run(
        [CRM, "--db", str(tmp_path / "crm.db"), "--user", "ana", "users", "add", "system:x", "--no-password"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0 and "reserved" in done.stderr and "Traceback" not in done.stderr


# ------------------------------------------------------ no secrets in logs
class _Boom(RouteHandler):
    def get(self, token: str) -> None:
        raise RuntimeError("boom")


def test_secret_looking_segments_and_queries_are_redacted():
    assert redact_path("/ical/AbCdEf0123456789_-xyzXYZ.ics") == "/ical/<redacted>.ics"
    assert redact_path("/unsubscribe?t=secret-signed-token") == "/unsubscribe"
    assert redact_path("/api/contacts/12") == "/api/contacts/12"


def test_access_and_error_logs_name_no_token(workspace, caplog, monkeypatch):
    import crm_workspace.web.server as server_module

    token = "S3cr3tT0k3nS3cr3tT0k3n"
    caplog.set_level(logging.INFO)
    route = Route(r"/boom/([A-Za-z0-9]+)", _Boom)
    monkeypatch.setattr(server_module, "route_patterns", lambda ws: [(route.pattern, route.handler, {"workspace": ws})])
    with route_server(workspace) as server:
        assert (
            server.request("GET", f"/boom/{token}?t=another-secret", headers={"Authorization": "Bearer xyz"})[0] == 500
        )
    text = caplog.text
    assert "boom" in text and "/boom/<redacted>" in text
    assert token not in text and "another-secret" not in text and "Bearer xyz" not in text
