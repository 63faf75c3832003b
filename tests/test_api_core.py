"""The API in-process: an API write audited and announced like a Store write, a plugin's table served,
roles capped by ``max_role``, and a Store shared by worker threads never serving a stale cache."""

from __future__ import annotations

import threading

import pytest
from api_helpers import Api

from crm_workspace import hookimpl


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
