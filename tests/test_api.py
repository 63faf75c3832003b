"""The JSON API over real HTTP: `crm api` in a subprocess, tokens made by `crm tokens add`.

Every error status, a viewer's token refused on every write, expired and revoked
tokens, stale versions, keyset pagination through every page, CSV neutralisation,
the OpenAPI description validated, and the same API at /api/ of `crm serve`
(test_api_core.py watches the hooks of an API write in-process).
"""

from __future__ import annotations

import contextlib
import csv
import http.client
import io
import json
import os
import subprocess

import pytest
from api_helpers import PY, RESOURCES, Api, add_token, crm, error_of
from helpers import Server

pytestmark = pytest.mark.xdist_group("api17")


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
    # no background tick: a tick's write (a score, a due task) between the two reads compared below
    # would make the served page differ from the direct one for reasons that are not the API's
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
