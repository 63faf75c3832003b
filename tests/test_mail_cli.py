"""``crm mail``: test message, outbox listing with counts, send with a server up and down."""

from __future__ import annotations

import json

from click.testing import CliRunner

from crm_workspace.cli import cli
from crm_workspace.services import outbox
from crm_workspace.services.mailer import make_message
from crm_workspace.testing import configure_smtp, free_port


def run(workspace, *args: str):
    return CliRunner().invoke(cli, ["--db", workspace.path, *args], catch_exceptions=False)


def test_mail_test_sends_one_message(workspace, smtpd):
    configure_smtp(workspace, smtpd.port)
    result = run(workspace, "mail", "test", "Ana@Example.com")
    assert result.exit_code == 0, result.output
    assert "sent <" in result.output and "to ana@example.com through 127.0.0.1:" in result.output
    assert smtpd.recipients() == ["ana@example.com"]


def test_mail_test_with_the_server_down_is_one_line(workspace):
    configure_smtp(workspace, free_port())
    result = run(workspace, "mail", "test", "ana@example.com")
    assert result.exit_code == 1
    assert "cannot reach the SMTP server" in result.output and "Traceback" not in result.output
    assert run(workspace, "mail", "test", "not-an-address").output.startswith("Error: 'not-an-address' is not")


def test_outbox_listing_and_send(workspace, smtpd):
    configure_smtp(workspace, smtpd.port)
    for n in range(3):
        outbox.enqueue(
            workspace, make_message(to=f"p{n}@example.com", subject=f"S{n}", text="t"), key=f"k{n}", plugin="cli"
        )
    listed = run(workspace, "mail", "outbox")
    assert listed.output.splitlines()[0] == "3 queued, 0 sending, 0 sent, 0 failed, 0 unknown"
    assert "p2@example.com" in listed.output
    sent = run(workspace, "mail", "send")
    assert sent.exit_code == 0 and sent.output.strip() == "3 sent, 0 failed, 0 to retry"
    rows = json.loads(run(workspace, "mail", "outbox", "--json").output)
    assert [r["status"] for r in rows] == ["sent"] * 3 and "message" not in rows[0]
    counts = json.loads(run(workspace, "mail", "outbox", "--counts", "--json").output)
    assert {"status": "sent", "messages": 3} in counts
    assert len(smtpd.messages) == 3


def test_send_with_the_server_down_leaves_mail_queued(workspace):
    configure_smtp(workspace, free_port())
    outbox.enqueue(workspace, make_message(to="a@example.com", subject="s", text="t"), key="k", plugin="cli")
    result = run(workspace, "mail", "send")
    assert result.exit_code == 1 and "cannot reach the SMTP server" in result.output
    assert outbox.counts(workspace)["queued"] == 1


def test_prune_reports_what_it_removed(workspace):
    old = outbox.enqueue(workspace, make_message(to="a@example.com", subject="s", text="t"), key="old", plugin="cli")
    outbox.enqueue(workspace, make_message(to="b@example.com", subject="s", text="t"), key="new", plugin="cli")
    with workspace.store.transaction():
        workspace.store.conn.execute(
            "UPDATE mail_outbox SET status = 'sent', sent_at = '2020-01-01T00:00:00Z' WHERE id = ?", [old]
        )
    result = run(workspace, "mail", "prune", "--days", "30")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        "removed 1 finished message older than 30 days; dropped the text of 0 more that records still count"
    )
    assert [r["key"] for r in workspace.store.query("SELECT key FROM mail_outbox")] == ["new"]
    assert "removed 0 finished messages" in run(workspace, "mail", "prune").output  # mail_retention_days: 90


def test_only_an_admin_may_prune_from_the_command_line(workspace):
    old = outbox.enqueue(workspace, make_message(to="a@example.com", subject="s", text="t"), key="old", plugin="cli")
    with workspace.store.transaction():
        workspace.store.conn.execute(
            "UPDATE mail_outbox SET status = 'sent', sent_at = '2020-01-01T00:00:00Z' WHERE id = ?", [old]
        )
    for username, role in (("tester", "admin"), ("ben", "member"), ("eve", "viewer")):
        workspace.store.insert("users", {"username": username, "role": role})
    refusals = {
        "ben": "Error: only an admin may prune mail_outbox (ben is a member)",
        "eve": "Error: eve is a viewer and may not change data (delete mail_outbox refused)",
        "mallory": "Error: mallory is not a user of this workspace and has no rights",
    }
    for user, refusal in refusals.items():
        result = run(workspace, "--user", user, "mail", "prune", "--days", "30")
        assert result.exit_code == 1 and result.output.startswith(refusal), result.output
        assert "Traceback" not in result.output
    assert workspace.store.query("SELECT key FROM mail_outbox") == [{"key": "old"}]  # nothing removed
    result = run(workspace, "--user", "tester", "mail", "prune", "--days", "30")
    assert result.exit_code == 0 and result.output.startswith("removed 1 finished message"), result.output
