"""Periodic work (crm_tick): `crm tick`, the serve thread's runner, failure isolation, no overlap, a test clock."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time

import pytest
from helpers import CRM, install_plugin

from crm_workspace import hookimpl
from crm_workspace.errors import CrmError
from crm_workspace.services import scheduler
from crm_workspace.services.scheduler import Ticker, run_ticks, tick_time
from crm_workspace.testing import make_workspace, registered


class Recorder:
    def __init__(self):
        self.calls = []

    @hookimpl
    def crm_tick(self, workspace, now):
        self.calls.append((workspace.user, workspace.system, now))
        workspace.store.insert("organizations", {"name": f"ticked at {now}"})


class Failing:
    @hookimpl
    def crm_tick(self, workspace):
        raise RuntimeError("mail server down")


@pytest.fixture
def ws(tmp_path):
    workspace = make_workspace(tmp_path / "crm.db", builtins=False, user="ana")
    workspace.store.insert("users", {"username": "ana", "role": "viewer"})  # the caller's rights do not matter
    yield workspace
    workspace.close()


def test_each_plugin_ticks_as_its_system_actor_and_a_failure_stays_its_own(ws):
    recorder = Recorder()
    with registered(ws, Failing(), name="failing"), registered(ws, recorder, name="recorder"):
        run = run_ticks(ws, "2026-12-01T09:00:00+01:00")
        # then the core's own work (the outbox's retention), as the plugin "core"
        assert [(r.plugin, r.ok) for r in run] == [("failing", False), ("recorder", True), ("core", True)]
        assert "mail server down" in run[0].error and not run.skipped
        assert recorder.calls == [("system:recorder", True, "2026-12-01T08:00:00Z")]
        assert "failing" in {e.plugin for e in ws.plugin_errors()}
        users = ws.store.query("SELECT DISTINCT user FROM audit_log WHERE table_name = 'organizations'")
        assert users == [{"user": "system:recorder"}]
        assert [r.plugin for r in run_ticks(ws, plugins=["recorder"])] == ["recorder"]
        with pytest.raises(CrmError, match=r"no enabled plugin named nope .*\(ticking: .*recorder, core\)"):
            run_ticks(ws, plugins=["nope"])  # "core" is a name --plugin takes, so the message lists it


def test_the_test_clock(monkeypatch):
    assert tick_time("2026-12-01T09:00") == "2026-12-01T09:00:00Z"
    assert tick_time("2026-12-01T09:00:00Z") == "2026-12-01T09:00:00Z"
    monkeypatch.setenv("CRM_NOW", "2027-01-02T03:04:05Z")
    assert tick_time() == "2027-01-02T03:04:05Z"
    monkeypatch.delenv("CRM_NOW")
    assert tick_time().endswith("Z") and tick_time() >= "2026"
    with pytest.raises(CrmError, match="not an ISO time"):
        tick_time("next tuesday")


class Slow:
    def __init__(self):
        self.started = threading.Event()
        self.release = threading.Event()

    @hookimpl
    def crm_tick(self, workspace, now):
        self.started.set()
        assert self.release.wait(30)


def test_ticks_never_overlap_in_one_process_or_across_processes(ws):
    slow = Slow()
    with registered(ws, slow, name="slow"):
        results = []
        thread = threading.Thread(target=lambda: results.append(run_ticks(ws)))
        thread.start()
        try:
            assert slow.started.wait(10)
            assert run_ticks(ws).skipped  # this process: skipped, not queued
            other = subprocess.run(
                [CRM, "--db", ws.path, "tick"], capture_output=True, text=True, timeout=60, env=os.environ
            )
            assert other.returncode == 0 and "skipped" in other.stderr  # a cron job while serve ticks
        finally:
            slow.release.set()
            thread.join(10)
        assert [r.plugin for r in results[0]] == ["slow", "core"] and results[0][0].ok
        assert not run_ticks(ws).skipped  # the lock is free again


def test_the_serve_thread_ticks_until_stopped(ws):
    recorder = Recorder()
    with registered(ws, recorder, name="recorder"):
        ticker = Ticker(ws.path, opener=lambda: ws, first_delay=0.05).start()
        deadline = time.monotonic() + 20
        while not recorder.calls and time.monotonic() < deadline:
            time.sleep(0.05)
        ticker.stop()
        assert recorder.calls and recorder.calls[0][:2] == ("system:recorder", True)
        assert ticker.runs >= 1
        assert scheduler.tick_seconds(ws) == 30
        ws.as_system("test").set_setting("tick_seconds", 5)
        assert scheduler.tick_seconds(ws) == 5
    with pytest.raises(Exception, match="between 5 and"):
        ws.as_system("test").set_setting("tick_seconds", 1)


TICKERS = """
from crm_workspace import hookimpl


class Ok:
    @hookimpl
    def crm_tick(self, workspace, now):
        workspace.store.insert("organizations", {"name": f"ticked at {now}"})


class Broken:
    @hookimpl
    def crm_tick(self, workspace, now):
        raise RuntimeError("queue unreachable")


ok, broken = Ok(), Broken()
"""


def test_crm_tick_runs_installed_plugins_reports_each_and_fails_if_one_did(tmp_path):
    site = install_plugin(
        tmp_path / "site",
        "crm_tick_probe",
        TICKERS,
        {"tick-ok": "crm_tick_probe:ok", "tick-broken": "crm_tick_probe:broken"},
    )
    db = tmp_path / "crm.db"
    make_workspace(db, builtins=False).close()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    env["CRM_PLUGINS"] = "tick-ok,tick-broken"
    env.pop("CRM_NOW", None)
    done = subprocess.run(
        [CRM, "--db", str(db), "tick", "--json", "--now", "2026-12-01T09:00"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 1, done.stderr
    rows = {row["plugin"]: row for row in json.loads(done.stdout)}
    assert rows["tick-ok"]["ok"] and not rows["tick-broken"]["ok"]
    assert "queue unreachable" in rows["tick-broken"]["error"]
    assert "tick failed for: tick-broken" in done.stderr and "Traceback" not in done.stderr
    done = subprocess.run(
        [CRM, "--db", str(db), "tick", "--plugin", "tick-ok"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, "CRM_NOW": "2026-12-02T10:00:00Z"},
    )
    assert done.returncode == 0 and "tick-ok" in done.stdout and "ok" in done.stdout
    ws = make_workspace(db, builtins=False)
    names = ws.query(
        "SELECT o.name, a.user FROM organizations o JOIN audit_log a ON a.row_id = o.id"
        " AND a.table_name = 'organizations' ORDER BY o.id"
    )
    ws.close()
    assert names == [
        {"name": "ticked at 2026-12-01T09:00:00Z", "user": "system:tick-ok"},
        {"name": "ticked at 2026-12-02T10:00:00Z", "user": "system:tick-ok"},
    ]


def test_serve_mounts_routes_and_starts_the_ticker_unless_told_not_to(tmp_path, monkeypatch):
    import gc

    import panel as pn

    from crm_workspace.web import server
    from crm_workspace.web.session import ServeConfig

    make_workspace(tmp_path / "crm.db").close()
    served, started = [], []
    monkeypatch.setattr(pn, "serve", lambda *args, **kwargs: served.append(kwargs))
    monkeypatch.setattr(Ticker, "start", lambda self: started.append(self) or self)
    monkeypatch.setattr(gc, "freeze", lambda: None)
    monkeypatch.setattr(gc, "set_threshold", lambda *args: None)
    monkeypatch.setattr(gc, "get_threshold", gc.get_threshold)
    config = ServeConfig(path=str(tmp_path / "crm.db"), user="ana")
    server.serve(config, port=0, address="127.0.0.1", show=False, tick=False)
    server.serve(config, port=0, address="127.0.0.1", show=False, tick=True)
    assert len(started) == 1 and started[0].path == config.path
    assert served[0]["http_server_kwargs"]["max_body_size"] >= 1_000_000
    assert isinstance(served[0]["extra_patterns"], list)
