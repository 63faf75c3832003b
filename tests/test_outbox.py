"""The mail outbox: once per key, sent once even when the sender is killed, refusals and retries."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crm_workspace.errors import CrmError, PermissionDenied
from crm_workspace.services import outbox, privacy
from crm_workspace.services.mailer import MailError, make_message
from crm_workspace.testing import configure_smtp, free_port, smtp_server

ROOT = Path(__file__).resolve().parents[1]


def queue(ws, n: int, *, start: int = 0, plugin: str = "marketing") -> list[int]:
    with ws.store.transaction():
        return [
            outbox.enqueue(
                ws,
                make_message(to=f"p{i}@example.com", subject=f"Hello {i}", text=f"Dear {i}"),
                key=f"campaign-1:{i}",
                plugin=plugin,
                ref_table="campaigns",
                ref_id=1,
            )
            for i in range(start, start + n)
        ]


def statuses(ws) -> dict[str, int]:
    return {k: v for k, v in outbox.counts(ws).items() if v}


def test_the_same_key_twice_is_one_row(workspace):
    first = outbox.enqueue(workspace, make_message(to="a@example.com", subject="s", text="t"), key="k", plugin="p")
    again = outbox.enqueue(workspace, make_message(to="a@example.com", subject="s2", text="t"), key="k", plugin="p")
    assert first == again
    assert workspace.store.scalar("SELECT count(*) FROM mail_outbox") == 1
    row = workspace.store.get("mail_outbox", first)
    assert (row["status"], row["sender"], row["recipient"], row["subject"]) == (
        "queued",
        "crm@localhost",
        "a@example.com",
        "s",
    )
    (audit,) = workspace.store.query("SELECT changes FROM audit_log WHERE table_name = 'mail_outbox'")
    assert "a@example.com" in audit["changes"] and "Message-ID" not in audit["changes"]  # no copy of the text
    assert "Message-ID:" in workspace.store.scalar("SELECT message FROM mail_outbox")


def test_deliver_sends_each_queued_message_once(workspace, smtpd):
    configure_smtp(workspace, smtpd.port)
    ids = queue(workspace, 5)
    seen = []
    result = outbox.deliver(workspace, progress=lambda done, total: seen.append((done, total)))
    assert (result.sent, result.failed, result.retrying) == (5, 0, 0)
    assert sorted(result.sent_ids) == ids
    assert seen[-1] == (5, 5)
    assert sorted(smtpd.recipients()) == sorted(f"p{i}@example.com" for i in range(5))
    assert smtpd.messages[0]["Subject"] == "Hello 0" and smtpd.messages[0]["Message-ID"]
    rows = outbox.outbox_rows(workspace)
    assert {r["status"] for r in rows} == {"sent"} and all(r["sent_at"] and r["attempts"] == 1 for r in rows)
    assert "message" not in rows[0]
    assert outbox.deliver(workspace).sent == 0  # nothing left
    assert len(smtpd.messages) == 5


def test_deliver_by_plugin_and_limit(workspace, smtpd):
    configure_smtp(workspace, smtpd.port)
    queue(workspace, 3, plugin="marketing")
    queue(workspace, 2, start=10, plugin="service")
    assert outbox.deliver(workspace, plugin="service").sent == 2
    assert outbox.deliver(workspace, limit=2).sent == 2
    assert statuses(workspace) == {"queued": 1, "sent": 4}


def test_send_after_holds_a_message_back(workspace, smtpd):
    configure_smtp(workspace, smtpd.port)
    outbox.enqueue(
        workspace,
        make_message(to="a@example.com", subject="s", text="t"),
        key="later",
        plugin="p",
        send_after="2999-01-01T00:00:00Z",
    )
    assert outbox.deliver(workspace).sent == 0
    assert smtpd.messages == []


def test_permanent_and_temporary_refusals(workspace):
    with smtp_server(refuse={"p1@example.com": 550, "p2@example.com": 451}) as server:
        configure_smtp(workspace, server.port)
        ids = queue(workspace, 3)
        result = outbox.deliver(workspace)
        assert (result.sent, result.failed, result.retrying) == (1, 1, 1)
        failed = workspace.store.get("mail_outbox", ids[1])
        assert (failed["status"], failed["permanent"], failed["attempts"]) == ("failed", 1, 1)
        assert "550" in failed["last_error"]
        retry = workspace.store.get("mail_outbox", ids[2])
        assert (retry["status"], retry["attempts"], retry["permanent"]) == ("queued", 1, 0)
        assert "451" in retry["last_error"] and retry["send_after"] > retry["queued_at"]
        assert outbox.deliver(workspace).retrying == 0  # not due yet: backoff
        workspace.store.conn.execute("SELECT 1")
        with workspace.store.transaction():
            workspace.store.conn.execute("UPDATE mail_outbox SET send_after = NULL WHERE id = ?", [ids[2]])
        assert outbox.deliver(workspace).retrying == 1
        assert workspace.store.get("mail_outbox", ids[2])["attempts"] == 2
        assert server.recipients() == ["p0@example.com"]
    assert outbox.backoff(1) == 60 and outbox.backoff(2) == 120 and outbox.backoff(30) == outbox.MAX_BACKOFF_S


def test_a_server_that_is_down_leaves_the_rows_queued(workspace):
    configure_smtp(workspace, free_port())
    queue(workspace, 2)
    with pytest.raises(MailError, match="cannot reach the SMTP server"):
        outbox.deliver(workspace)
    rows = outbox.outbox_rows(workspace)
    assert [(r["status"], r["attempts"]) for r in rows] == [("queued", 0), ("queued", 0)]


def test_throttling_spaces_messages_out(workspace, smtpd):
    configure_smtp(workspace, smtpd.port)
    queue(workspace, 4)
    started = time.monotonic()
    assert outbox.deliver(workspace, per_minute=600).sent == 4  # one every 0.1 s
    assert time.monotonic() - started >= 0.3


_SENDER = """
import os, signal, sys
from crm_workspace import Workspace
from crm_workspace.services import outbox

def stop_after(done, total):
    if done == int(sys.argv[2]):
        os.kill(os.getpid(), signal.SIGKILL)

ws = Workspace.open(sys.argv[1], user="tester", builtins_only=True)
outbox.deliver(ws, progress=stop_after)
"""


def test_a_killed_sender_never_sends_a_message_twice(workspace, tmp_path):
    with smtp_server() as server:
        configure_smtp(workspace, server.port)
        queue(workspace, 20)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "plugins")])}
        child = subprocess.run([sys.executable, "-c", _SENDER, workspace.path, "7"], env=env, timeout=120)
        assert child.returncode == -9
        assert len(server.messages) == 7
        workspace.poll()
        assert statuses(workspace) == {"sent": 6, "unknown": 1, "queued": 13}  # the 7th: sent, not yet marked
        (left,) = outbox.outbox_rows(workspace, status="unknown")  # still 'sending' in the table, its sender gone
        assert left["recipient"] == "p6@example.com" and outbox.outbox_rows(workspace, status="sending") == []
        result = outbox.deliver(workspace)
        assert (result.sent, result.unknown) == (13, 1)
        received = server.recipients()
    assert sorted(received) == sorted(f"p{i}@example.com" for i in range(20))  # each exactly once
    assert statuses(workspace) == {"sent": 19, "unknown": 1}
    (unknown,) = outbox.outbox_rows(workspace, status="unknown")
    assert "may or may not" in unknown["last_error"]
    assert outbox.deliver(workspace).sent == 0  # never resent automatically
    assert outbox.requeue(workspace, [unknown["id"]]) == 1
    assert outbox.outbox_rows(workspace, status="queued")[0]["id"] == unknown["id"]
    with pytest.raises(CrmError, match="only unknown or failed"):
        outbox.requeue(workspace, [unknown["id"] - 1])


def test_privacy_covers_the_outbox(workspace, tmp_path):
    contact = workspace.store.insert("contacts", {"first_name": "Ana", "last_name": "Lima", "email": "ana@example.com"})
    outbox.enqueue(
        workspace,
        make_message(to="ana@example.com", subject="For Ana Lima", text="Dear Ana"),
        key="k1",
        plugin="marketing",
        contact_id=contact["id"],
    )
    data = privacy.gather(workspace, "ana@example.com")
    assert data["mail"][0]["recipient"] == "ana@example.com"
    privacy.erase(workspace, "ana@example.com", tmp_path)
    row = workspace.store.query("SELECT recipient, subject, message FROM mail_outbox")[0]
    assert "ana@example.com" not in str(row) and "Ana Lima" not in str(row)


def test_enqueue_many_is_one_commit_and_keeps_keys_unique(workspace):
    before = outbox.enqueue(workspace, make_message(to="a@example.com", subject="old", text="t"), key="k0", plugin="p")
    entries = [
        {
            "message": make_message(to=f"p{i}@example.com", subject=f"#{i}", text="t"),
            "key": f"k{i % 4}",
            "plugin": "p",
            "contact_id": i,
            "send_after": "2030-01-01T10:00:00+02:00",
        }
        for i in range(6)
    ]
    ids = outbox.enqueue_many(workspace, entries)
    assert ids[0] == ids[4] == before and ids[1] == ids[5] and len(set(ids)) == 4
    rows = {r["key"]: r for r in workspace.store.query("SELECT * FROM mail_outbox")}
    assert rows["k0"]["subject"] == "old" and rows["k1"]["subject"] == "#1"
    assert rows["k1"]["send_after"] == "2030-01-01T08:00:00Z"
    with pytest.raises(CrmError, match="send_after"):
        outbox.enqueue(
            workspace, make_message(to="b@example.com", subject="s", text="t"), key="x", plugin="p", send_after="soon"
        )
    assert workspace.store.scalar("SELECT count(*) FROM mail_outbox") == 4  # nothing half-written


def test_a_viewer_may_not_deliver(workspace, smtpd):
    configure_smtp(workspace, smtpd.port)
    queue(workspace, 1)
    workspace.store.insert("users", {"username": "tester", "role": "admin"})
    workspace.store.insert("users", {"username": "vic", "role": "viewer"})
    with pytest.raises(PermissionDenied):
        outbox.deliver(workspace.as_user("vic"))
    assert smtpd.messages == [] and statuses(workspace) == {"queued": 1}
    system = workspace.as_system("marketing")  # a plugin's tick: queue and deliver as the system
    outbox.enqueue(system, make_message(to="b@example.com", subject="s", text="t"), key="tick", plugin="marketing")
    assert outbox.deliver(system).sent == 2
    assert workspace.store.scalar("SELECT user FROM audit_log WHERE row_id = '2' AND table_name = 'mail_outbox'") == (
        "system:marketing"
    )


def test_an_interrupted_send_is_unknown_not_queued(workspace, smtpd, monkeypatch):
    from crm_workspace.services.mailer import Connection

    configure_smtp(workspace, smtpd.port)
    (row_id,) = queue(workspace, 1)

    def interrupted(self, sender, to, text):
        raise KeyboardInterrupt

    monkeypatch.setattr(Connection, "send_raw", interrupted)
    with pytest.raises(KeyboardInterrupt):
        outbox.deliver(workspace)
    row = workspace.store.get("mail_outbox", row_id)
    assert row["status"] == "unknown" and "interrupted" in row["last_error"]


def _age(ws, ids, **values) -> None:
    """Set columns of rows directly: a ledger as it looks months later."""
    names = ", ".join(f"{name} = ?" for name in values)
    with ws.store.transaction():
        ws.store.conn.executemany(
            f"UPDATE mail_outbox SET {names} WHERE id = ?", [[*values.values(), row_id] for row_id in ids]
        )


def test_retention_removes_old_finished_mail_and_keeps_what_records_count(workspace):
    from crm_workspace.services.scheduler import run_ticks

    ws = workspace
    notes = [
        outbox.enqueue(ws, make_message(to=f"n{i}@example.com", subject="note", text="t"), key=f"note-{i}", plugin="n")
        for i in range(4)
    ]
    campaign = queue(ws, 2)  # a campaign's rows: ref_table campaigns
    old, recent, now = "2026-08-01T09:00:00Z", "2026-11-01T09:00:00Z", "2026-11-10T09:00:00Z"  # 101 and 9 days
    _age(ws, [notes[0], *campaign], status="sent", attempted_at=old, sent_at=old)
    _age(ws, [notes[1]], status="failed", attempted_at=old, queued_at=old)
    _age(ws, [notes[2]], queued_at=old)  # still waiting: never pruned
    _age(ws, [notes[3]], status="sent", attempted_at=recent, sent_at=recent)
    audited = ws.store.scalar("SELECT count(*) FROM audit_log")

    assert outbox.prune(ws, now=now) == {"removed": 2, "emptied": 2}
    left = {r["id"]: r for r in ws.store.query("SELECT id, status, message FROM mail_outbox")}
    assert set(left) == {notes[2], notes[3], *campaign}
    assert [left[i]["message"] for i in campaign] == [None, None] and left[notes[3]]["message"]
    assert statuses(ws) == {"queued": 1, "sent": 3}  # the campaign's sent figure is intact
    again = outbox.enqueue(ws, make_message(to="p0@example.com", subject="s", text="t"), key="campaign-1:0", plugin="m")
    assert again == campaign[0]  # its key still makes it once-only
    assert ws.store.scalar("SELECT count(*) FROM audit_log") == audited  # no copy of what went into the audit log
    assert outbox.prune(ws, now=now) == {"removed": 0, "emptied": 0}

    ws.set_setting("mail_retention_days", 0)  # keep everything
    assert outbox.prune(ws, now="2030-01-01T00:00:00Z") == {"removed": 0, "emptied": 0}
    ws.set_setting("mail_retention_days", 5)
    (result,) = run_ticks(ws, now=now, plugins=["core"])  # the tick's core step uses the setting
    assert (result.plugin, result.ok) == ("core", True)
    assert ws.store.scalar("SELECT count(*) FROM mail_outbox WHERE id = ?", [notes[3]]) == 0
    with pytest.raises(CrmError, match="must be a whole number of days"):
        ws.set_setting("mail_retention_days", -1)
    ws.store.insert("users", {"username": "tester", "role": "admin"})
    ws.store.insert("users", {"username": "vic", "role": "viewer"})
    with pytest.raises(PermissionDenied):
        outbox.prune(ws.as_user("vic"), days=1, now="2030-01-01T00:00:00Z")


def test_retention_reads_only_its_candidates_through_an_index(workspace):
    """The hourly prune must not scan the kept ledger: each step reads its own partial index."""
    from crm_workspace.data import retention

    store = workspace.store
    removed = retention.plan(store, "mail_outbox", outbox.REMOVED, ["x"], index="idx_mail_outbox_removable")
    emptied = retention.plan(
        store, "mail_outbox", outbox.EMPTIED, ["x"], columns=["message"], index="idx_mail_outbox_emptiable"
    )
    for plan, index in ((removed, "idx_mail_outbox_removable"), (emptied, "idx_mail_outbox_emptiable")):
        assert f"USING INDEX {index}" in plan and "SCAN" not in plan, plan
    # an emptied row of a record leaves the index: years of campaign ledger cost the scan nothing
    (row_id,) = queue(workspace, 1)
    _age(workspace, [row_id], status="sent", sent_at="2026-01-01T00:00:00Z")
    outbox.prune(workspace, now="2026-11-30T00:00:00Z")
    candidates = store.query(
        f"SELECT id FROM mail_outbox INDEXED BY idx_mail_outbox_emptiable WHERE {outbox.EMPTIED} AND message IS NOT NULL",
        ["2030-01-01T00:00:00Z"],
    )
    assert candidates == [] and store.get("mail_outbox", row_id)["status"] == "sent"


def test_only_an_admin_or_the_scheduler_may_prune(workspace):
    ws = workspace
    ws.store.insert("users", {"username": "tester", "role": "admin"})
    ws.store.insert("users", {"username": "mia", "role": "member"})
    (row_id,) = queue(ws, 1)
    _age(ws, [row_id], status="sent", sent_at="2026-01-01T00:00:00Z")
    with pytest.raises(PermissionDenied, match="only an admin may prune mail_outbox"):
        outbox.prune(ws.as_user("mia"), days=1, now="2026-11-30T00:00:00Z")
    assert ws.store.get("mail_outbox", row_id)["message"]  # nothing was touched
    assert outbox.prune(ws.as_system("core"), days=1, now="2026-11-30T00:00:00Z") == {"removed": 0, "emptied": 1}


@pytest.mark.parametrize("bad", [-1, 2.5, True, "30", None])
def test_a_retention_setting_is_whole_days(workspace, bad):
    """One check for every ledger's retention setting (mail here, webhooks in the automation plugin)."""
    from crm_workspace.data.retention import check_days

    assert check_days(7.0) == 7 and check_days(0) == 0
    with pytest.raises(ValueError, match="whole number of days"):
        check_days(bad)
    for key in ("mail_retention_days", "webhooks_retention_days"):
        with pytest.raises(CrmError, match="whole number of days"):
            workspace.set_setting(key, bad)
