"""The login over real HTTP against a served workspace: required without a restart, logout revokes the
session, cookie flags, unknown names cost as much time as known ones, parallel guesses are locked out.

The tests share one server and run in order (the lockout test last: it locks the address's count up).
"""

from __future__ import annotations

import http.client
import shutil
import sqlite3
import statistics
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from helpers import Server

from crm_workspace.data import permissions
from crm_workspace.web import auth

#: one server for the module, so its tests run on one worker; each sets the passwords it uses
pytestmark = pytest.mark.xdist_group("login")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, demo_template: Path):
    db = tmp_path_factory.mktemp("sessions") / "crm.db"
    shutil.copy(demo_template, db)
    served = Server(db, env={"CRM_LOGIN_LOCK_SECONDS": "120"})
    yield served
    served.stop()


def set_password(db: Path, user: str, password: str) -> None:
    conn = sqlite3.connect(db)
    conn.execute("UPDATE users SET password_hash = ? WHERE username = ?", [permissions.hash_password(password), user])
    conn.commit()
    conn.close()


def request(server: Server, path: str = "", form: dict | None = None, cookies: str = "", headers: dict | None = None):
    """(status, Location, Set-Cookie headers) of one request, redirects not followed."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    sent = dict(headers or {})
    if cookies:
        sent["Cookie"] = cookies
    body = None
    if form is not None:
        body = urllib.parse.urlencode(form)
        sent["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        conn.request("POST" if form is not None else "GET", "/" + path, body, sent)
        response = conn.getresponse()
        response.read()
        return response.status, response.getheader("Location", ""), response.msg.get_all("Set-Cookie") or []
    finally:
        conn.close()


def login(server: Server, user: str, password: str, headers: dict | None = None):
    return request(server, "login", {"username": user, "password": password}, headers=headers)


def cookie_header(set_cookies: list[str]) -> str:
    pairs = [c.split(";", 1)[0] for c in set_cookies]
    return "; ".join(p for p in pairs if not p.endswith("=") and not p.endswith('=""'))


def error_of(location: str) -> str:
    return urllib.parse.unquote_plus(location.partition("error=")[2])


def test_login_is_required_as_soon_as_a_user_has_a_password_without_a_restart(server):
    assert request(server)[0] == 200  # no passwords yet: open, as the server's user
    set_password(server.db, "ben", "ben-secret-1")
    status, location, _ = request(server)
    assert status == 302 and "login" in location


def test_logout_revokes_the_session_on_the_server_and_cookies_are_httponly_samesite(server):
    set_password(server.db, "ben", "ben-secret-1")
    status, location, set_cookies = login(server, "ben", "ben-secret-1")
    assert status == 302 and "error" not in location
    cookies = cookie_header(set_cookies)
    assert "user=" in cookies and "crm_session=" in cookies
    for header in set_cookies:
        assert "httponly" in header.lower() and "samesite=lax" in header.lower(), header
        assert "secure" not in header.lower().replace("samesite", "")  # plain http
    assert request(server, cookies=cookies)[0] == 200
    assert request(server, "logout", cookies=cookies)[0] == 200
    status, location, _ = request(server, cookies=cookies)  # the same cookies, replayed after the logout
    assert status == 302 and "login" in location
    revoked = sqlite3.connect(server.db).execute("SELECT count(*) FROM login_sessions WHERE revoked_at IS NOT NULL")
    assert revoked.fetchone()[0] == 1


def test_cookies_are_secure_behind_https(server):
    set_password(server.db, "ben", "ben-secret-1")
    status, _, set_cookies = login(server, "ben", "ben-secret-1", headers={"X-Forwarded-Proto": "https"})
    assert status == 302 and set_cookies
    for header in set_cookies:
        attributes = {a.strip().split("=")[0].lower() for a in header.split(";")[1:]}
        assert {"secure", "httponly", "samesite"} <= attributes, header


def test_unknown_usernames_take_as_long_as_known_ones(server):
    stored = permissions.hash_password("some password")
    verify_s = []
    for _ in range(3):
        started = time.perf_counter()
        permissions.verify_password(stored, "not the password")
        verify_s.append(time.perf_counter() - started)
    for user in ("dev", "eve"):
        set_password(server.db, user, f"{user}-secret-1")
    known, unknown = [], []
    for round_ in range(2):
        for user in ("ben", "dev", "eve"):
            for name, times in ((user, known), (f"nobody{round_}{user}", unknown)):
                started = time.perf_counter()
                status, location, _ = login(server, name, "wrong password")
                times.append(time.perf_counter() - started)
                assert status == 302 and "Invalid" in error_of(location)
    gap = statistics.median(known) - statistics.median(unknown)
    assert abs(gap) < max(0.5 * statistics.median(verify_s), 0.05), (known, unknown, verify_s)


def test_a_new_password_ends_the_users_sessions(server):
    set_password(server.db, "dev", "dev-secret-1")
    status, _, set_cookies = login(server, "dev", "dev-secret-1")
    cookies = cookie_header(set_cookies)
    assert status == 302 and request(server, cookies=cookies)[0] == 200
    set_password(server.db, "dev", "dev-secret-2")
    status, location, _ = request(server, cookies=cookies)
    assert status == 302 and "login" in location


def test_forty_parallel_guesses_get_at_most_five_tries(server):
    set_password(server.db, "chloe", "chloe-secret-1")
    with ThreadPoolExecutor(40) as pool:
        answers = list(pool.map(lambda i: login(server, "chloe", f"guess-{i}"), range(40)))
    errors = [error_of(location) for status, location, _ in answers]
    tried = [e for e in errors if e.startswith("Invalid")]
    locked = [e for e in errors if e.startswith("Too many failed logins")]
    assert len(tried) <= 5 and len(locked) >= 35, errors
    status, location, _ = login(server, "chloe", "chloe-secret-1")  # even the right password waits now
    assert status == 302 and error_of(location).startswith("Too many failed logins")
    failures = sqlite3.connect(server.db).execute(
        "SELECT failures, locked_until FROM login_failures WHERE key = ?", [auth.failure_keys("chloe", "")[0]]
    )
    count, locked_until = failures.fetchone()
    assert count == 5 and locked_until > time.time() + 60


def test_the_login_check_keeps_its_connection_and_still_sees_every_change(tmp_path: Path, monkeypatch):
    """Asked every second by every open page: one kept connection per file, never a stale answer."""
    from crm_workspace import Workspace

    path = tmp_path / "crm.db"
    Workspace.open(path, user="admin", builtins_only=True).close()
    plain = tmp_path / "plain.db"
    shutil.copy(path, plain)
    assert not auth.login_required(str(path))
    kept = auth._reader(str(path))

    def add_password(db: Path) -> None:
        with sqlite3.connect(db) as conn:
            conn.execute(
                "INSERT INTO users (username, role, password_hash) VALUES ('ben', 'admin', ?)",
                [permissions.hash_password("ben-secret-1")],
            )
        conn.close()

    add_password(path)
    assert auth.login_required(str(path))  # another connection's write, seen at once
    assert auth._reader(str(path)) is kept
    with sqlite3.connect(plain) as source, sqlite3.connect(path) as target:
        source.backup(target)  # `crm restore`: the same file, its content replaced
    assert not auth.login_required(str(path))
    for name in ("crm.db", "crm.db-wal", "crm.db-shm"):  # another workspace made at the same path
        (tmp_path / name).unlink(missing_ok=True)
    Workspace.open(path, user="admin", builtins_only=True).close()
    add_password(path)
    assert auth.login_required(str(path))
    assert auth._reader(str(path)) is not kept
    token = auth.start_session(str(path), "ben")
    assert auth.session_user(str(path), token) == "ben"
    auth.revoke_session(str(path), token)
    assert auth.session_user(str(path), token) is None  # revoked: refused at once, through the kept connection
    with sqlite3.connect(path) as writer:  # the kept reader holds no read transaction: `crm privacy erase`
        assert writer.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0  # can empty the WAL
    writer.close()
    kept = auth._reader(str(path))
    monkeypatch.setattr(auth.os, "getpid", lambda: -1)  # a forked server process (crm serve --num-procs)
    assert auth._reader(str(path)) is not kept
    monkeypatch.undo()
    for n in range(auth.READERS_KEPT + 2):  # many files (tests): only the last few stay open
        other = tmp_path / f"other{n}.db"
        shutil.copy(plain, other)
        assert not auth.login_required(str(other))
    assert len(auth._readers.kept) == auth.READERS_KEPT
