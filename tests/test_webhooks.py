"""Webhooks out: signed deliveries to a real local receiver, retries with the same id, a hanging or
dead receiver never slowing a write, a worker killed mid-retry, and the addresses refused."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from crm_workspace_automation import delivery, netguard, webhooks
from webhook_receiver import Receiver, verify

from crm_workspace import PermissionDenied, ValidationError
from crm_workspace.cli import cli


@pytest.fixture
def ws(workspace):
    workspace.set_setting("webhooks_allow_private", True)  # the receiver listens on 127.0.0.1
    return workspace


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def _at(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _contact(ws, name="Ana"):
    return ws.store.insert(
        "contacts", {"first_name": name, "last_name": "Lopez", "email": f"{name.lower()}@example.com"}
    )


def test_a_write_is_delivered_signed(ws, receiver):
    sub = webhooks.subscribe(ws, receiver.url, "contacts.created,contacts.updated")
    receiver.secret = sub["secret"]
    contact = _contact(ws)
    ws.store.update("contacts", contact["id"], {"title": "CEO"}, version=contact["version"])
    delivery.deliver_due(ws)
    assert [r.json["event"] for r in receiver.requests] == ["contacts.created", "contacts.updated"]
    created, updated = receiver.requests
    assert all(r.verified for r in receiver.requests)
    assert created.headers["X-CRM-Event"] == "contacts.created"
    assert created.delivery == created.json["id"]
    assert created.json["data"]["record"]["email"] == "ana@example.com"
    assert updated.json["data"]["changes"]["title"] == [None, "CEO"]
    assert updated.json["data"]["before"]["title"] is None
    # a tampered body, a wrong secret or a stale timestamp fails the documented check
    assert not verify(sub["secret"], created.headers, created.body + b" ")
    assert not verify("another-secret-of-some-length", created.headers, created.body)
    assert not verify(sub["secret"], created.headers, created.body, now=time.time() + 301)
    log = webhooks.deliveries(ws)
    assert {r["status"] for r in log} == {"delivered"} and all(r["last_status_code"] == 200 for r in log)


def test_the_secret_is_shown_once_and_never_audited(ws, receiver):
    sub = webhooks.subscribe(ws, receiver.url, "*")
    audit = ws.query("SELECT changes FROM audit_log WHERE table_name = 'webhook_subscriptions'")
    assert audit and sub["secret"] not in json.dumps(audit) and "<redacted>" in audit[0]["changes"]
    assert "secret" not in webhooks.get(ws, sub["id"]) and "secret" not in webhooks.subscriptions(ws)[0]
    assert ws.query("SELECT secret FROM webhook_subscriptions") == [{"secret": None}]  # hidden from reads
    assert ws.store.secret("webhook_subscriptions", "secret", sub["id"]) == sub["secret"]


def test_domain_events_and_only_the_subscribed_ones(ws, receiver):
    webhooks.subscribe(ws, receiver.url, "deal.won,deal.lost,contact.lifecycle_changed,ticket.solved")
    contact = _contact(ws)
    ws.store.update("contacts", contact["id"], {"lifecycle_stage": "lead"})
    deal = ws.store.insert(
        "deals", {"title": "Big one", "stage": "proposal", "amount": 1000, "contact_id": contact["id"]}
    )
    ws.store.update("deals", deal["id"], {"stage": "won"})
    lost = ws.store.insert("deals", {"title": "Gone", "stage": "proposal", "amount": 10})
    ws.store.update("deals", lost["id"], {"stage": "lost", "lost_reason": "price"})
    events = [r["event"] for r in ws.query("SELECT event FROM webhook_events ORDER BY id")]
    # the won deal made its contact a customer (the lifecycle plugin's rule): a second stage change
    assert sorted(events) == ["contact.lifecycle_changed", "contact.lifecycle_changed", "deal.lost", "deal.won"]
    delivery.deliver_due(ws)
    won = next(r for r in receiver.requests if r.json["event"] == "deal.won")
    assert won.json["data"]["record"]["status"] == "won" and won.json["data"]["changes"]["stage"][1] == "won"


def test_ticket_solved_by_table_and_field_names(ws, receiver):
    import contextlib

    import sqlite_utils

    from crm_workspace import hookimpl
    from crm_workspace.testing import registered

    class Tickets:  # the service module's table, as far as webhooks need to know it
        migrations = sqlite_utils.Migrations("test.tickets")

        @migrations()
        def m001(db):
            db["tickets"].create({"id": int, "subject": str, "status": str, "contact_id": int}, pk="id")

        @hookimpl
        def crm_migrations(self):
            return self.migrations

    # The built-in service plugin owns ``tickets`` now; the stand-in is only for a workspace without it.
    has_tickets = bool(ws.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'tickets'"))
    with contextlib.nullcontext() if has_tickets else registered(ws, Tickets()):
        webhooks.subscribe(ws, receiver.url, "ticket.solved,tickets.created")
        ticket = ws.store.insert("tickets", {"subject": "Broken", "status": "open"})
        ws.store.update("tickets", ticket["id"], {"status": "solved"})
        ws.store.update("tickets", ticket["id"], {"subject": "Broken printer"})  # still solved: no new event
    events = [r["event"] for r in ws.query("SELECT event FROM webhook_events ORDER BY id")]
    assert events == ["tickets.created", "ticket.solved"]


def test_500_then_200_is_retried_with_the_same_id(ws):
    answers = iter([500, 200])
    receiver = Receiver(lambda request: next(answers))
    try:
        webhooks.subscribe(ws, receiver.url, "contacts.created")
        _contact(ws)
        assert str(delivery.deliver_due(ws)) == "0 delivered, 1 to retry, 0 failed"
        row = webhooks.deliveries(ws)[0]
        assert row["status"] == "pending" and row["attempts"] == 1 and row["last_status_code"] == 500
        wait = (datetime.fromisoformat(row["next_attempt_at"]) - datetime.now(UTC)).total_seconds()
        assert 40 <= wait <= 75  # the first backoff, 60 s with jitter
        assert str(delivery.deliver_due(ws)) == "0 delivered, 0 to retry, 0 failed"  # not due yet
        assert str(delivery.deliver_due(ws, now=_at(120))) == "1 delivered, 0 to retry, 0 failed"
        first, second = receiver.requests
        assert first.delivery == second.delivery and first.body == second.body
        assert webhooks.deliveries(ws)[0]["attempts"] == 2
    finally:
        receiver.close()


def test_repeated_failure_disables_the_subscription_with_a_notice(ws):
    receiver = Receiver(lambda request: 503)
    ws.set_setting("webhooks_max_failures", 3)
    ws.set_setting("webhooks_backoff", [1, 1, 1, 1, 1])
    try:
        sub = webhooks.subscribe(ws, receiver.url, "contacts.created")
        _contact(ws)
        for minutes in range(1, 6):
            delivery.deliver_due(ws, now=_at(60 * minutes))
        assert len(receiver.requests) == 3
        listed = webhooks.subscriptions(ws)[0]
        assert listed["state"] == "DISABLED" and "3 failed deliveries in a row" in listed["notice"]
        result = CliRunner().invoke(cli, ["--db", ws.path, "webhooks", "list"])
        assert "DISABLED" in result.output and "failed deliveries in a row" in result.output
        webhooks.set_enabled(ws, sub["id"], True)  # on again: the waiting event resumes
        assert webhooks.subscriptions(ws)[0]["failures"] == 0
    finally:
        receiver.close()


def test_a_hanging_receiver_slows_no_write_and_no_other_subscription(ws):
    hanging = Receiver(lambda request: time.sleep(4) or 200)
    fast = Receiver()
    ws.set_setting("webhooks_timeout", 1)
    try:
        webhooks.subscribe(ws, hanging.url, "*")
        webhooks.subscribe(ws, fast.url, "contacts.created")
        thread = delivery.start_thread(ws, interval=0.1)
        started = time.perf_counter()
        for i in range(30):
            _contact(ws, f"N{i}")
        writes = time.perf_counter() - started
        fast.wait_for(lambda: len(fast.ok()) == 30, timeout=10)
        sql = "SELECT status, last_error FROM webhook_deliveries WHERE subscription_id = 1 AND attempts > 0"
        fast.wait_for(lambda: ws.query(sql), timeout=10)  # the hanging one timed out meanwhile
        thread.stop()
        assert writes < 3, f"30 writes took {writes:.1f} s while a receiver hung"
        rows = ws.query(sql)
        assert rows and all(r["status"] == "pending" for r in rows)
        assert any("no answer within 1 s" in (r["last_error"] or "") for r in rows)
    finally:
        hanging.close()
        fast.close()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://localhost/hook",  # a name resolving to a loopback address
        "http://10.1.2.3/hook",
        "http://0.0.0.0/hook",
        "http://[::ffff:127.0.0.1]/hook",
    ],
)
def test_private_addresses_are_refused_at_subscribe_time(workspace, url):
    with pytest.raises(netguard.UnsafeURL, match="refused"):
        webhooks.subscribe(workspace, url, "*")
    assert not workspace.query("SELECT * FROM webhook_subscriptions")


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "file:///etc/passwd", "javascript:alert(1)", "example.com/hook"]
)
def test_only_http_urls(ws, url):
    with pytest.raises(netguard.UnsafeURL, match="only http"):
        webhooks.subscribe(ws, url, "*")


def test_addresses_are_checked_again_at_delivery_after_resolving(workspace, receiver, monkeypatch):
    """DNS rebinding: a name that was public when subscribed and resolves to loopback at delivery."""
    answers = {"receiver.test": "93.184.216.34"}
    real = socket.getaddrinfo
    monkeypatch.setattr(netguard.socket, "getaddrinfo", lambda host, *a, **k: real(answers.get(host, host), *a, **k))
    webhooks.subscribe(workspace, receiver.url.replace("127.0.0.1", "receiver.test"), "contacts.created")
    answers["receiver.test"] = "127.0.0.1"
    _contact(workspace)
    delivery.deliver_due(workspace)
    row = webhooks.deliveries(workspace)[0]
    assert receiver.requests == [] and row["status"] == "pending"
    assert "refused: receiver.test resolves to 127.0.0.1, a loopback address" in row["last_error"]


def test_only_admins_subscribe_and_only_admins_allow_private(ws, receiver):
    ws.store.insert_many("users", [{"username": "tester", "role": "admin"}, {"username": "mia", "role": "member"}])
    member = ws.as_user("mia")
    with pytest.raises(PermissionDenied):
        webhooks.subscribe(member, receiver.url, "*")
    with pytest.raises(PermissionDenied, match="only an admin"):
        member.store.insert("webhook_subscriptions", {"url": receiver.url, "events": '["*"]'})
    with pytest.raises(PermissionDenied):
        member.set_setting("webhooks_allow_private", False)
    with pytest.raises(ValidationError, match="unknown events"):
        webhooks.subscribe(ws, receiver.url, "deal.wonn")


def test_replay_sends_the_same_event_again(ws, receiver):
    webhooks.subscribe(ws, receiver.url, "contacts.created")
    _contact(ws)
    delivery.deliver_due(ws)
    first = webhooks.deliveries(ws)[0]
    again = webhooks.replay(ws, first["id"])
    assert again["status"] == "delivered" and again["replay_of"] == first["id"] and again["id"] != first["id"]
    assert receiver.requests[0].delivery == receiver.requests[1].delivery == first["event_id"]


def test_the_command_line(ws, receiver):
    runner = CliRunner()
    added = runner.invoke(
        cli, ["--db", ws.path, "webhooks", "add", receiver.url, "--events", "deal.won,contacts.created"]
    )
    assert added.exit_code == 0, added.output
    secret = added.output.strip().splitlines()[-1]
    receiver.secret = secret
    listed = json.loads(runner.invoke(cli, ["--db", ws.path, "webhooks", "list", "--json"]).output)
    assert listed[0]["events"] == "deal.won, contacts.created" and listed[0]["state"] == "enabled"
    tested = runner.invoke(cli, ["--db", ws.path, "webhooks", "test", "1"])
    assert tested.exit_code == 0 and "delivered, HTTP 200" in tested.output, tested.output
    assert receiver.requests[0].json["event"] == "ping" and receiver.requests[0].verified
    log = json.loads(runner.invoke(cli, ["--db", ws.path, "webhooks", "deliveries", "--json"]).output)
    assert log[0]["event"] == "ping" and log[0]["status"] == "delivered"
    replayed = runner.invoke(cli, ["--db", ws.path, "webhooks", "replay", str(log[0]["id"])])
    assert replayed.exit_code == 0 and len(receiver.requests) == 2, replayed.output
    refused = runner.invoke(cli, ["--db", ws.path, "webhooks", "add", "file:///etc/passwd", "--events", "*"])
    assert refused.exit_code != 0 and "only http" in refused.output and "Traceback" not in refused.output
    removed = runner.invoke(cli, ["--db", ws.path, "webhooks", "remove", "1"])
    assert removed.exit_code == 0 and webhooks.subscriptions(ws) == []


def _worker(db) -> subprocess.Popen:
    argv = [
        sys.executable,
        "-m",
        "crm_workspace",
        "--db",
        str(db),
        "webhooks",
        "deliver",
        "--loop",
        "--interval",
        "0.1",
    ]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())


@pytest.mark.slow
def test_a_worker_killed_mid_retry_loses_nothing(ws, tmp_path):
    """Every event reaches the receiver at least once, each time under the id it was created with."""
    seen: dict[str, int] = {}

    def answer(request):
        n = seen[request.delivery] = seen.get(request.delivery, 0) + 1
        if n == 1:
            return 500  # every first attempt fails
        if n == 2:
            time.sleep(3)  # the worker is mid-retry on this one when it is killed
        return 200

    receiver = Receiver(answer)
    ws.set_setting("webhooks_backoff", [0, 0, 0, 0, 0])
    ws.set_setting("webhooks_timeout", 1)
    try:
        webhooks.subscribe(ws, receiver.url, "contacts.created")
        ids = set()
        for i in range(5):
            _contact(ws, f"K{i}")
        ids = {r["event_id"] for r in ws.query("SELECT event_id FROM webhook_events")}
        assert len(ids) == 5
        worker = _worker(ws.path)
        receiver.wait_for(lambda: any(n >= 2 for n in seen.values()), timeout=30)
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        assert ws.query("SELECT count(*) AS n FROM webhook_deliveries WHERE status != 'delivered'")[0]["n"] > 0
        worker = _worker(ws.path)
        try:
            receiver.wait_for(lambda: {r.delivery for r in receiver.ok()} == ids, timeout=60)
        finally:
            worker.terminate()
            worker.wait(10)
        assert all(r.delivery == r.json["id"] and r.delivery in ids for r in receiver.requests)
    finally:
        receiver.close()


def test_a_write_that_rolls_back_announces_nothing(ws, receiver):
    webhooks.subscribe(ws, receiver.url, "*")
    with pytest.raises(RuntimeError), ws.store.transaction():
        _contact(ws)
        raise RuntimeError("the caller gives up")
    delivery.deliver_due(ws)
    assert ws.query("SELECT * FROM webhook_events") == [] and receiver.requests == []


def test_crm_tick_delivers_and_runs_the_time_rules(ws, receiver):
    from crm_workspace.services.scheduler import run_ticks

    answers = iter([500, 200])
    receiver.answer = lambda request: next(answers)
    webhooks.subscribe(ws, receiver.url, "contacts.created")
    _contact(ws)
    run = run_ticks(ws, plugins=["automation"])
    assert [r.ok for r in run] == [True] and len(receiver.requests) == 1  # 500: retry in a minute
    run_ticks(ws, _at(30), plugins=["automation"])
    assert len(receiver.requests) == 1  # the tick's clock says: not yet
    run_ticks(ws, _at(120), plugins=["automation"])
    assert [r.status for r in receiver.requests] == [500, 200]
    audit = ws.query("SELECT DISTINCT user FROM audit_log WHERE table_name = 'webhook_deliveries'")
    assert audit == [{"user": "system:automation"}]


def test_an_erased_contact_leaves_no_body_to_send(ws, receiver, tmp_path):
    from crm_workspace.services import privacy

    webhooks.subscribe(ws, receiver.url, "contacts.created")
    _contact(ws, "Erin")
    privacy.erase(ws, "erin@example.com", tmp_path)
    delivery.deliver_due(ws)
    assert all("erin" not in r.body.decode().lower() for r in receiver.requests)
    stored = ws.query("SELECT payload FROM webhook_events UNION ALL SELECT payload FROM webhook_deliveries")
    assert stored and all("erin" not in (r["payload"] or "").lower() for r in stored)


def test_the_core_list_of_the_erased_offers_no_event(ws):
    assert "contacts.created" in webhooks.known_events(ws)
    assert not [name for name in webhooks.known_events(ws) if name.startswith("erased_contacts.")]


def test_https_receivers_are_verified_by_the_name_in_the_url(ws, tmp_path, monkeypatch):
    """The connection goes to the checked address, and TLS still verifies the URL's host name."""
    import shutil
    import ssl

    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", key, "-out", cert, "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    receiver = Receiver(tls=context)
    try:
        webhooks.subscribe(ws, receiver.url, "contacts.created")
        _contact(ws)
        delivery.deliver_due(ws)
        assert "CERTIFICATE_VERIFY_FAILED" in webhooks.deliveries(ws)[0]["last_error"]  # not trusted: not sent
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        delivery.deliver_due(ws, now=_at(120))
        assert webhooks.deliveries(ws)[0]["status"] == "delivered" and len(receiver.ok()) == 1
    finally:
        receiver.close()


def test_the_tick_prunes_finished_deliveries_and_expanded_events_after_the_retention_period(ws, receiver):
    from crm_workspace_automation import retention

    from crm_workspace.services.scheduler import run_ticks

    def age(table, ids, *columns):
        with ws.store.transaction():
            for column in columns:
                ws.store.conn.executemany(
                    f"UPDATE {table} SET {column} = '2020-01-01T00:00:00Z' WHERE id = ?", [[i] for i in ids]
                )

    def deliveries():
        return {r["record_id"]: r["status"] for r in ws.query("SELECT record_id, status FROM webhook_deliveries")}

    webhooks.subscribe(ws, receiver.url, "contacts.created")
    old, recent = _contact(ws, "Old"), _contact(ws, "Recent")
    delivery.deliver_due(ws)
    receiver.answer = lambda request: 500
    waiting = _contact(ws, "Waiting")
    delivery.deliver_due(ws)  # refused: pending, to be retried
    unexpanded = _contact(ws, "Unexpanded")  # an event the worker has not expanded yet
    assert deliveries() == {str(old["id"]): "delivered", str(recent["id"]): "delivered", str(waiting["id"]): "pending"}
    ids = {r["record_id"]: r["id"] for r in ws.query("SELECT id, record_id FROM webhook_deliveries")}
    age("webhook_deliveries", [ids[str(old["id"])], ids[str(waiting["id"])]], "created_at", "delivered_at")
    events = {r["record_id"]: r["id"] for r in ws.query("SELECT id, record_id FROM webhook_events")}
    age("webhook_events", [events[str(c["id"])] for c in (old, waiting, unexpanded)], "created_at")
    audited = ws.store.scalar("SELECT count(*) FROM audit_log")

    assert retention.prune(ws, days=0) == {"deliveries": 0, "events": 0}  # 0 keeps everything
    assert retention.prune(ws) == {"deliveries": 1, "events": 2}  # webhooks_retention_days: 30
    assert deliveries() == {str(recent["id"]): "delivered", str(waiting["id"]): "pending"}
    left = {r["record_id"] for r in ws.query("SELECT record_id FROM webhook_events")}
    assert left == {str(recent["id"]), str(unexpanded["id"])}  # old but not expanded yet: kept
    assert ws.store.scalar("SELECT count(*) FROM audit_log") == audited  # no copy of the bodies in the audit log
    assert [s["delivered"] for s in webhooks.subscriptions(ws)] == [1]  # the counts cover the period kept

    age("webhook_deliveries", [ids[str(recent["id"])]], "created_at", "delivered_at")
    assert [r.ok for r in run_ticks(ws, plugins=["automation"])] == [True]  # the tick prunes, about hourly
    assert str(recent["id"]) not in deliveries() and deliveries()[str(waiting["id"])] == "pending"
    with pytest.raises(ValidationError):
        ws.set_setting("webhooks_retention_days", "a month")


@pytest.mark.skipif(not hasattr(time, "tzset"), reason="needs time.tzset")
def test_retention_reads_a_time_without_a_zone_as_utc(monkeypatch):
    """A naive ``now`` is UTC, whatever the host's zone: on a host at UTC+14 the cutoff must not move 14 h."""
    from crm_workspace_automation import retention

    monkeypatch.setenv("TZ", "Etc/GMT-14")
    time.tzset()
    try:
        assert retention._moment("2026-12-01T09:00:00") == datetime(2026, 12, 1, 9, tzinfo=UTC)
    finally:
        monkeypatch.undo()
        time.tzset()


# ----------------------------------------------- addresses in any spelling
@pytest.mark.parametrize(
    "url",
    [
        "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
        "http://[2002:a9fe:a9fe::1]/",  # 6to4 of 169.254.169.254 (cloud metadata)
        "http://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/",  # Teredo, client 10.0.0.1
        "http://[::ffff:127.0.0.1]/",
        "http://2130706433/",
        "http://0177.0.0.1/",
        "http://0.0.0.0/",
    ],
)
def test_private_addresses_in_any_spelling_are_refused(url):
    with pytest.raises(netguard.UnsafeURL, match="refused"):
        netguard.resolve(url)


def test_a_public_6to4_address_is_allowed():
    assert netguard.resolve("http://[2002:808:808::1]/").address == "2002:808:808::1"
