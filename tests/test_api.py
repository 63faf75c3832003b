"""The JSON API over real HTTP: `crm api` in a subprocess, tokens made by `crm tokens add`.

Every error status, a viewer's token refused on every write, expired and revoked
tokens, stale versions, keyset pagination through every page, CSV neutralisation,
the OpenAPI description validated; and (in-process, to watch the hooks) an API
write audited and announced exactly like a write through the Store.
"""

from __future__ import annotations

import contextlib
import csv
import http.client
import io
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from helpers import Server

from crm_workspace import hookimpl

pytestmark = pytest.mark.xdist_group("api17")

PY = sys.executable
RESOURCES = ("contacts", "organizations", "deals", "activities")


def crm(db: Path, *args: str, user: str = "ana") -> subprocess.CompletedProcess:
    env = {**os.environ, "CRM_USER": user}
    return subprocess.run(
        [PY, "-m", "crm_workspace", "--db", str(db), *args], capture_output=True, text=True, env=env, timeout=120
    )


def add_token(db: Path, name: str, role: str, *extra: str) -> str:
    done = crm(db, "tokens", "add", name, "--role", role, *extra)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]  # the contract: the token is the last line


class Api:
    """A tiny HTTP client: ``call(method, path, token, body)`` -> (status, headers, parsed JSON or text)."""

    def __init__(self, port: int):
        self.port = port

    def call(self, method, path, token=None, body=None, *, raw=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        sent = dict(headers or {})
        if token:
            sent["Authorization"] = f"Bearer {token}"
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        if data is not None:
            sent.setdefault("Content-Type", "application/json")
        try:
            conn.request(method, path, body=data, headers=sent)
            response = conn.getresponse()
            text = response.read().decode()
        finally:
            conn.close()
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = text
        return response.status, response.headers, parsed  # headers: case-insensitive


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("api")
    db = root / "crm.db"
    done = crm(db, "init", "--demo", "--contacts", "60")
    assert done.returncode == 0, done.stderr
    tokens = {
        "admin": add_token(db, "admin-sync", "admin"),
        "member": add_token(db, "member-sync", "member", "--user", "ben"),
        "viewer": add_token(db, "reporting", "viewer", "--user", "eve"),
        "capped": add_token(db, "ana-readonly", "viewer"),  # an admin's token that may only read
    }
    server = Server(
        db,
        command=lambda port: [PY, "-m", "crm_workspace", "--db", str(db), "api", "--port", str(port)],
        ready_path="api/openapi.json",
    )
    yield db, Api(server.port), tokens
    server.stop()


def error_of(answer) -> dict:
    status, _headers, body = answer
    assert isinstance(body, dict) and set(body) == {"error"}, body
    assert body["error"]["status"] == status
    assert body["error"]["message"]
    return body["error"]


def test_tokens_are_shown_once_listed_without_secrets_and_hidden_from_members(served):
    from crm_workspace import PermissionDenied, Workspace

    db, _api, tokens = served
    listed = json.loads(crm(db, "tokens", "list", "--json").stdout)
    assert {t["name"] for t in listed} >= {"admin-sync", "member-sync", "reporting"}
    assert all("token_hash" not in t for t in listed)
    secret = tokens["admin"].split("_", 2)[2]
    ws = Workspace.open(db, user="ben", create=False)
    try:
        rows = ws.query("SELECT token_hash FROM api_tokens")
        assert rows and all(r["token_hash"] is None for r in rows)  # hidden, like password hashes
        assert ws.query("SELECT count(*) AS n FROM api_tokens WHERE token_hash IS NOT NULL")[0]["n"] == 0
        with pytest.raises(PermissionDenied):
            ws.store.update("api_tokens", listed[0]["id"], {"role": "admin"})
        admin = ws.as_user("ana")
        audit = json.dumps(admin.query("SELECT changes FROM audit_log WHERE table_name = 'api_tokens'"))
        assert "<redacted>" in audit and secret not in audit
        assert all(len(r["token_hash"] or "") != 64 for r in admin.query("SELECT token_hash FROM api_tokens"))
    finally:
        ws.close()
    refused = crm(db, "tokens", "add", "x", "--role", "admin", user="ben")
    assert refused.returncode != 0 and "admin" in refused.stderr and "Traceback" not in refused.stderr
    bad = crm(db, "tokens", "add", "x", "--role", "member", "--expires", "soon")
    assert bad.returncode != 0 and "--expires" in bad.stderr


def test_the_index_and_a_record_round_trip(served):
    _db, api, tokens = served
    status, _h, index = api.call("GET", "/api/", tokens["member"])
    assert status == 200 and index["user"] == "ben" and index["role"] == "member"
    assert set(RESOURCES) <= set(index["resources"])
    status, headers, created = api.call(
        "POST", "/api/contacts", tokens["member"], {"first_name": "Ada", "last_name": "Api"}
    )
    assert status == 201 and created["version"] == 1 and headers["Location"].endswith(f"/api/contacts/{created['id']}")
    path = f"/api/contacts/{created['id']}"
    status, _h, got = api.call("GET", path, tokens["viewer"])
    assert status == 200 and got["last_name"] == "Api" and got["updated_by"] == "ben"
    status, _h, changed = api.call("PATCH", path, tokens["member"], {"title": "CTO", "version": 1})
    assert status == 200 and changed["title"] == "CTO" and changed["version"] == 2
    status, _h, stale = api.call("PATCH", path, tokens["admin"], {"title": "CEO", "version": 1})
    assert status == 409 and error_of((status, _h, stale))["current"]["title"] == "CTO"
    assert error_of(api.call("DELETE", path, tokens["member"]))["fields"]["version"].startswith("required")
    status, headers, _row = api.call("GET", path, tokens["member"])
    assert headers["ETag"] == '"2"'  # If-Match takes it back instead of a version in the body
    assert api.call("PATCH", path, tokens["member"], {"title": "x"}, headers={"If-Match": '"1"'})[0] == 409
    assert api.call("DELETE", path + "?version=1", tokens["member"])[0] == 409
    assert api.call("DELETE", path, tokens["member"], headers={"If-Match": headers["ETag"]})[0] == 200
    assert api.call("GET", path, tokens["member"])[0] == 404


def test_every_error_is_one_json_answer(served):
    _db, api, tokens = served
    admin = tokens["admin"]
    assert error_of(api.call("POST", "/api/contacts", admin, raw='{"last_name": "x"'))["status"] == 400
    assert error_of(api.call("GET", "/api/contacts?limit=500", admin))["fields"] == {"limit": "1 to 200"}
    assert "nope" in error_of(api.call("GET", "/api/contacts?nope=1", admin))["fields"]
    assert error_of(api.call("GET", "/api/contacts?cursor=garbage!", admin))["status"] == 400
    # 401: missing, malformed, unknown
    assert error_of(api.call("GET", "/api/contacts"))["status"] == 401
    assert api.call("GET", "/api/contacts", headers={"Authorization": "Basic abc"})[0] == 401
    assert api.call("GET", "/api/contacts", admin[:-3] + "AAA")[0] == 401
    status, headers, _ = api.call("GET", "/api/contacts", "crm_999_" + "x" * 43)
    assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
    # 404
    assert error_of(api.call("GET", "/api/contacts/999999", admin))["status"] == 404
    assert error_of(api.call("GET", "/api/nothing", admin))["status"] == 404
    assert api.call("GET", "/api/contacts/abc", admin)[0] == 404
    # 413: a 50 MB body is refused before it is read
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=60)
    conn.putrequest("POST", "/api/contacts")
    conn.putheader("Authorization", f"Bearer {admin}")
    conn.putheader("Content-Length", str(50 * 1024 * 1024))
    conn.endheaders()
    with contextlib.suppress(OSError):
        conn.send(b"x" * 65536)
    response = conn.getresponse()
    assert response.status == 413 and json.loads(response.read())["error"]["status"] == 413
    conn.close()
    # 422: unknown and read-only fields, validation, missing version
    unknown = error_of(api.call("POST", "/api/contacts", admin, {"last_name": "X", "shoe_size": 44, "id": 5}))
    assert unknown["status"] == 422 and set(unknown["fields"]) == {"shoe_size", "id"}
    invalid = error_of(api.call("POST", "/api/contacts", admin, {"last_name": "X", "stakeholder_type": "alien"}))
    assert invalid["status"] == 422 and "stakeholder_type" in invalid["fields"]
    missing = error_of(api.call("PATCH", "/api/contacts/1", admin, {"title": "x"}))
    assert missing["status"] == 422 and "version" in missing["fields"]
    assert error_of(api.call("POST", "/api/contacts", admin, [1, 2]))["status"] == 400


def test_a_viewer_token_is_refused_on_every_write(served):
    _db, api, tokens = served
    for name in ("viewer", "capped"):  # eve is a viewer; ana is an admin whose token may only read
        token = tokens[name]
        for resource in RESOURCES:
            status, _h, page = api.call("GET", f"/api/{resource}?limit=1", token)
            assert status == 200 and page["data"], resource
            row = page["data"][0]
            key = f"/api/{resource}/{row['id']}"
            assert error_of(api.call("POST", f"/api/{resource}", token, {"owner": "eve"}))["status"] == 403
            assert error_of(api.call("PATCH", key, token, {"owner": "eve", "version": row["version"]}))["status"] == 403
            assert error_of(api.call("DELETE", f"{key}?version={row['version']}", token))["status"] == 403
        assert api.call("POST", "/api/contacts", token, raw="{not json")[0] == 403  # refused before reading


def test_expired_revoked_and_disabled_tokens_stop_at_once(served):
    from crm_workspace import Workspace

    db, api, _tokens = served
    expiring = add_token(db, "expiring", "member", "--expires", "1h")
    revoked = add_token(db, "revoked", "member")
    disabled = add_token(db, "dev-token", "member", "--user", "dev")
    for token in (expiring, revoked, disabled):
        assert api.call("GET", "/api/contacts?limit=1", token)[0] == 200
    assert crm(db, "tokens", "revoke", "revoked").returncode == 0
    ws = Workspace.open(db, user="ana", create=False)
    try:
        row = ws.query("SELECT id, version FROM api_tokens WHERE name = 'expiring'")[0]
        ws.store.update("api_tokens", row["id"], {"expires_at": "2020-01-01T00:00:00Z"}, version=row["version"])
        ws.store.update("users", "dev", {"active": 0})
        assert "expired" in error_of(api.call("GET", "/api/contacts", expiring))["message"]
        assert "revoked" in error_of(api.call("GET", "/api/contacts", revoked))["message"]
        assert "disabled" in error_of(api.call("GET", "/api/contacts", disabled))["message"]
    finally:
        ws.store.update("users", "dev", {"active": 1})
        ws.close()
    live = json.loads(crm(db, "tokens", "list", "--live", "--json").stdout)
    assert not {"expiring", "revoked"} & {t["name"] for t in live}


@pytest.mark.parametrize("sort", ["id", "-last_name", "lifecycle_stage", "-title"])
def test_keyset_pagination_walks_every_record_once(served, sort):
    from crm_workspace import Workspace

    db, api, tokens = served
    ws = Workspace.open(db, user="ana", create=False)
    try:
        expected = {r["id"] for r in ws.query("SELECT id FROM contacts")}
    finally:
        ws.close()
    seen, pages, path = [], 0, f"/api/contacts?limit=7&sort={sort}"
    while path:
        status, headers, page = api.call("GET", path, tokens["viewer"])
        assert status == 200, page
        seen += [row["id"] for row in page["data"]]
        pages += 1
        assert (page["next"] is None) == (page["cursor"] is None) == ("Link" not in headers)
        path = page["next"] and page["next"].split(str(api.port), 1)[1]
    assert len(seen) == len(set(seen)) and set(seen) == expected and pages == -(-len(expected) // 7)


def test_filters(served):
    _db, api, tokens = served
    _s, _h, page = api.call("GET", "/api/deals?amount__gte=20000&status=open&sort=-amount&limit=200", tokens["viewer"])
    amounts = [d["amount"] for d in page["data"]]
    assert amounts and amounts == sorted(amounts, reverse=True) and min(amounts) >= 20000
    assert {d["status"] for d in page["data"]} == {"open"}
    _s, _h, page = api.call("GET", "/api/contacts?email__contains=ANALYTICS&limit=200", tokens["viewer"])
    assert page["data"] and all("analytics" in c["email"] for c in page["data"])
    _s, _h, page = api.call("GET", "/api/contacts?lifecycle_stage=null&limit=200", tokens["viewer"])
    assert all(c["lifecycle_stage"] is None for c in page["data"])


def test_search_and_views_as_json_and_neutralised_csv(served):
    _db, api, tokens = served
    evil = {"first_name": '=HYPERLINK("http://x")', "last_name": "@SUM(A1)", "title": "+1-555", "notes": "-2"}
    status, _h, created = api.call("POST", "/api/contacts", tokens["member"], evil)
    assert status == 201, created
    status, _h, found = api.call("GET", "/api/search?q=HYPERLINK", tokens["viewer"])
    assert status == 200 and any(hit["url"].endswith(f"/api/contacts/{created['id']}") for hit in found["data"])
    assert api.call("GET", "/api/search", tokens["viewer"])[0] == 400
    status, _h, views = api.call("GET", "/api/views", tokens["viewer"])
    assert status == 200 and "contacts.list" in {v["name"] for v in views["data"]}
    status, _h, listed = api.call("GET", "/api/views/contacts.list?search=HYPERLINK", tokens["viewer"])
    assert status == 200 and listed["count"] == 1 and listed["data"][0]["first_name"] == evil["first_name"]
    status, headers, text = api.call("GET", "/api/views/contacts.list?search=HYPERLINK&format=csv", tokens["viewer"])
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["first_name"] == "'" + evil["first_name"] and rows[0]["last_name"] == "'@SUM(A1)"
    assert rows[0]["title"] == "'+1-555"
    for row in rows:
        assert not any(str(v).startswith(("=", "+", "-", "@")) for v in row.values())
    assert error_of(api.call("GET", "/api/views/nope.nope", tokens["viewer"]))["status"] == 404
    assert error_of(api.call("GET", "/api/views/contacts.list?bogus=1&format=xml", tokens["viewer"]))["status"] == 400


def test_the_openapi_description_is_valid(served):
    from openapi_spec_validator import validate

    _db, api, _tokens = served
    status, _h, document = api.call("GET", "/api/openapi.json")
    assert status == 200
    validate(document)
    assert document["openapi"].startswith("3.1")
    for resource in RESOURCES:
        assert f"/{resource}" in document["paths"] and f"/{resource}/{{id}}" in document["paths"]
    contact = document["components"]["schemas"]["contacts"]["properties"]
    assert contact["email"]["type"] == ["string", "null"] and contact["version"]["readOnly"]
    assert "version" in document["components"]["schemas"]["contacts_changes"]["properties"]


def test_last_use_is_stamped_without_filling_the_audit_log(served):
    from crm_workspace import Workspace

    db, api, _tokens = served
    token = add_token(db, "busy", "viewer", "--user", "eve")
    for _ in range(5):
        assert api.call("GET", "/api/contacts?limit=1", token)[0] == 200
    ws = Workspace.open(db, user="ana", create=False)
    try:
        row = ws.query("SELECT id, last_used_at FROM api_tokens WHERE name = 'busy'")[0]
        assert row["last_used_at"]
        updates = ws.query(
            "SELECT count(*) AS n FROM audit_log WHERE table_name = 'api_tokens' AND row_id = ? AND action = 'update'",
            [str(row["id"])],
        )
        assert updates[0]["n"] == 1
    finally:
        ws.close()


def test_rate_limit_answers_429_with_retry_after(served):
    from crm_workspace import Workspace

    db, api, _tokens = served
    token = add_token(db, "hasty", "viewer", "--user", "eve")
    ws = Workspace.open(db, user="ana", create=False)
    ws.set_setting("api_rate_limit", 3)
    try:
        answers = [api.call("GET", "/api/contacts?limit=1", token) for _ in range(5)]
    finally:
        ws.set_setting("api_rate_limit", 600)
        ws.close()
    assert [a[0] for a in answers[:3]] == [200, 200, 200]
    status, headers, _body = answers[3]
    assert status == 429 and int(headers["Retry-After"]) >= 1 and error_of(answers[3])["status"] == 429


# ------------------------------------------------------------- in-process: the hooks
class Recorder:
    """Records every change announced, and serves its own table through the API."""

    def __init__(self):
        self.changes = []

    @hookimpl
    def crm_record_changed(self, workspace, changes):
        self.changes.extend(changes)

    @hookimpl
    def crm_migrations(self):
        import sqlite_utils

        migrations = sqlite_utils.Migrations("test.api_recorder")

        @migrations()
        def m001(db):
            db["api_notes"].create(
                {"id": int, "text": str, "version": int, "updated_at": str, "updated_by": str, "created_at": str},
                pk="id",
                defaults={"version": 1},
            )

        return migrations

    @hookimpl
    def crm_api_resources(self, workspace):
        from crm_workspace import ApiResource

        return [ApiResource("notes", "api_notes", "Notes")]


def test_an_api_write_is_audited_and_announced_like_a_store_write(tmp_path):
    import asyncio

    from crm_workspace_api.server import make_app
    from crm_workspace_api.tokens import create_token

    from crm_workspace.testing import make_workspace

    recorder = Recorder()
    ws = make_workspace(tmp_path / "crm.db", demo=True, contacts=20, plugins=(recorder,), user="ana")
    _row, token = create_token(ws, "in-process", "member", user="ben")
    started, loop_box = threading.Event(), {}

    def run():
        async def main():
            import tornado.httpserver

            server = tornado.httpserver.HTTPServer(make_app(ws))
            sockets = __import__("tornado.netutil").netutil.bind_sockets(0, "127.0.0.1")
            server.add_sockets(sockets)
            loop_box["port"] = sockets[0].getsockname()[1]
            loop_box["stop"] = asyncio.Event()
            started.set()
            await loop_box["stop"].wait()

        loop_box["loop"] = asyncio.new_event_loop()
        loop_box["loop"].run_until_complete(main())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(30)
    api = Api(loop_box["port"])
    try:
        contact = ws.query("SELECT id, version, title FROM contacts ORDER BY id LIMIT 2")
        recorder.changes.clear()
        status, _h, _body = api.call(
            "PATCH",
            f"/api/contacts/{contact[0]['id']}",
            token,
            {"title": "Head of API", "version": contact[0]["version"]},
        )
        assert status == 200
        by_api = [c for c in recorder.changes if c.table == "contacts"]  # (the token's last use is stamped too)
        recorder.changes.clear()
        ws.as_user("ben").store.update(
            "contacts", contact[1]["id"], {"title": "Head of API"}, version=contact[1]["version"]
        )
        by_store = [c for c in recorder.changes if c.table == "contacts"]
        assert len(by_api) == len(by_store) == 1
        shape = lambda c: (c.table, c.action, c.user, c.after["title"], sorted(k for k in c.after if c.changed(k)))  # noqa: E731
        assert shape(by_api[0]) == shape(by_store[0])
        audit = ws.query(
            "SELECT user, action, changes FROM audit_log WHERE table_name = 'contacts' AND row_id = ?",
            [str(contact[0]["id"])],
        )
        assert audit[-1]["user"] == "ben" and audit[-1]["action"] == "update" and "Head of API" in audit[-1]["changes"]
        # a plugin's table served through crm_api_resources
        status, _h, note = api.call("POST", "/api/notes", token, {"text": "hello"})
        assert status == 201 and note["version"] == 1
        status, _h, page = api.call("GET", "/api/notes", token)
        assert [n["text"] for n in page["data"]] == ["hello"]
        assert any(c.table == "api_notes" and c.action == "insert" for c in recorder.changes)
    finally:
        loop_box["loop"].call_soon_threadsafe(loop_box["stop"].set)
        thread.join(10)
        ws.close()


def test_max_role_caps_a_user_and_never_raises_one(tmp_path):
    from crm_workspace import PermissionDenied
    from crm_workspace.testing import make_workspace

    ws = make_workspace(tmp_path / "crm.db", demo=True, contacts=10, user="ana")
    contact = ws.query("SELECT id, version FROM contacts LIMIT 1")[0]
    capped = ws.as_user("ana", max_role="member")  # an admin's member token
    with pytest.raises(PermissionDenied):
        capped.store.update("users", "ben", {"role": "admin"})
    capped.store.update("contacts", contact["id"], {"title": "ok"}, version=contact["version"])
    assert ws.as_user("ana", max_role="viewer").read_only
    assert ws.as_user("eve", max_role="admin").read_only  # a viewer stays a viewer
    with pytest.raises(PermissionDenied):
        ws.as_user("eve", max_role="admin").store.update("contacts", contact["id"], {"title": "no"})


def test_crm_serve_serves_the_same_api_at_slash_api(served):
    db, api, tokens = served
    env = {**os.environ, "CRM_USER": "ana"}
    done = subprocess.run(
        [PY, "-m", "crm_workspace", "--db", str(db), "users", "passwd", "ana", "--password-stdin"],
        input="correct horse battery\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr  # the app now asks for a login; the API asks for a token
    server = Server(db, args=("--no-tick",), ready_path="api/openapi.json")
    try:
        served_api = Api(server.port)
        status, _h, page = served_api.call("GET", "/api/contacts?limit=5&sort=-id", tokens["member"])
        alone = api.call("GET", "/api/contacts?limit=5&sort=-id", tokens["member"])[2]
        assert status == 200 and page["data"] == alone["data"] and page["cursor"] == alone["cursor"]
        assert error_of(served_api.call("GET", "/api/contacts"))["status"] == 401  # the token, not Panel's login
        status, _h, created = served_api.call("POST", "/api/organizations", tokens["member"], {"name": "Served Ltd"})
        assert status == 201 and created["updated_by"] == "ben"
        assert error_of(served_api.call("POST", "/api/organizations", tokens["viewer"], {"name": "x"}))["status"] == 403
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        conn.putrequest("POST", "/api/contacts")
        conn.putheader("Authorization", f"Bearer {tokens['admin']}")
        conn.putheader("Content-Length", str(50 * 1024 * 1024))
        conn.endheaders()
        response = conn.getresponse()
        assert response.status == 413 and json.loads(response.read())["error"]["status"] == 413
        conn.close()
    finally:
        server.stop()


def test_a_store_shared_by_threads_never_serves_one_threads_stale_cache_to_another(tmp_path):
    """The API's worker threads share Stores: each connection's data version is its own count."""
    from crm_workspace import Workspace
    from crm_workspace.testing import make_workspace

    ws = make_workspace(tmp_path / "crm.db", user="ana")
    ws.set_setting("api_rate_limit", 5)
    seen = []

    def read():
        seen.append(ws.setting("api_rate_limit"))

    first = threading.Thread(target=read)
    first.start()
    first.join()
    other = Workspace.open(tmp_path / "crm.db", user="ana")  # another process, as far as SQLite knows
    other.set_setting("api_rate_limit", 7)
    other.close()
    second = threading.Thread(target=read)  # a fresh connection, whose data version may equal the first's
    second.start()
    second.join()
    assert seen == [5, 7]
