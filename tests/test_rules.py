"""Workflow rules: field-change rules in the write's transaction, time rules by the scheduler's clock,
no loops, a failing action reported with the write kept, a removed field disabling its rule; a rule
acts with its author's rights and never reads credentials."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from crm_workspace_automation import rules

from crm_workspace import ValidationError, Workspace
from crm_workspace.cli import cli
from crm_workspace.testing import make_workspace


def _in(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _deal(ws, **fields):
    return ws.store.insert(
        "deals", {"title": "Rocket", "stage": "qualification", "amount": 5000, "owner": "ana", **fields}
    )


def _tasks(ws, **where):
    sql = "SELECT * FROM activities WHERE kind = 'task'" + "".join(f" AND {k} = :{k}" for k in where)
    return ws.query(sql, where)


def test_a_deal_moving_to_a_stage_creates_a_task_for_its_owner(workspace):
    rule = rules.save(
        workspace,
        {
            "name": "Proposal: follow up",
            "table": "deals",
            "trigger": "update",
            "conditions": [{"field": "stage", "op": "changed to", "value": "proposal"}],
            "actions": [{"type": "create_task", "subject": "Follow up {{ title }}", "due_days": 3}],
        },
    )
    deal = _deal(workspace)
    assert _tasks(workspace) == []  # created in qualification: the rule watches a move
    workspace.store.update("deals", deal["id"], {"stage": "proposal"})
    (task,) = _tasks(workspace, deal_id=deal["id"])
    assert task["subject"] == "Follow up Rocket" and task["owner"] == "ana" and task["done"] == 0
    assert abs(datetime.fromisoformat(task["due_at"]) - datetime.now(UTC) - timedelta(days=3)) < timedelta(minutes=1)
    workspace.store.update("deals", deal["id"], {"amount": 6000})  # still in proposal: no second task
    assert len(_tasks(workspace)) == 1
    (run,) = rules.runs(workspace, rule["id"])
    assert run["status"] == "ok" and run["record_id"] == str(deal["id"]) and "task #" in run["detail"]
    notes = workspace.query("SELECT subject FROM activities WHERE kind = 'note' AND deal_id = ?", [deal["id"]])
    assert notes == [{"subject": "Rule run: Proposal: follow up (ok)"}]  # on the record's timeline


def test_amount_above_a_limit(workspace):
    rules.save(
        workspace,
        {
            "name": "Big deal",
            "table": "deals",
            "trigger": "change",
            "conditions": [{"field": "amount", "op": ">", "value": 100000}],
            "actions": [{"type": "create_task", "subject": "Big: {{ title }}"}],
        },
    )
    small = _deal(workspace, title="Small")
    _deal(workspace, title="Huge", amount=250000)
    workspace.store.update("deals", small["id"], {"amount": 100001})
    assert sorted(t["subject"] for t in _tasks(workspace)) == ["Big: Huge", "Big: Small"]


def test_a_contact_becoming_a_customer_is_tagged(workspace):
    rules.save(
        workspace,
        {
            "name": "Customer tag",
            "table": "contacts",
            "trigger": "update",
            "conditions": [{"field": "lifecycle_stage", "op": "changed to", "value": "customer"}],
            "actions": [{"type": "add_tag", "tag": "customer"}],
        },
    )
    contact = workspace.store.insert("contacts", {"first_name": "Ana", "lifecycle_stage": "lead"})
    workspace.store.update("contacts", contact["id"], {"lifecycle_stage": "customer"})
    tags = workspace.query("SELECT tag FROM contact_tags WHERE contact_id = ?", [contact["id"]])
    assert tags == [{"tag": "customer"}]


def test_no_activity_for_n_days_by_the_scheduler_with_a_test_clock(workspace):
    rules.save(
        workspace,
        {
            "name": "Quiet lead",
            "table": "contacts",
            "trigger": "time",
            "conditions": [
                {"field": "lifecycle_stage", "op": "equals", "value": "lead"},
                {"op": "no activity for days", "value": 14},
            ],
            "actions": [{"type": "create_task", "subject": "Check in with {{ first_name }}"}],
        },
    )
    quiet = workspace.store.insert("contacts", {"first_name": "Quiet", "lifecycle_stage": "lead"})
    busy = workspace.store.insert("contacts", {"first_name": "Busy", "lifecycle_stage": "lead"})
    workspace.store.insert("contacts", {"first_name": "Customer", "lifecycle_stage": "customer"})
    workspace.store.insert("activities", {"kind": "call", "contact_id": busy["id"], "occurred_at": _in(10)})
    assert rules.run_time_rules(workspace, now=_in(7)) == {"ok": 0, "failed": 0, "disabled": 0}
    assert rules.run_time_rules(workspace, now=_in(15)) == {"ok": 1, "failed": 0, "disabled": 0}
    assert [t["subject"] for t in _tasks(workspace)] == ["Check in with Quiet"]
    assert _tasks(workspace)[0]["contact_id"] == quiet["id"]
    assert rules.run_time_rules(workspace, now=_in(16))["ok"] == 0  # once per quiet spell
    from crm_workspace.services.scheduler import run_ticks

    assert [r.ok for r in run_ticks(workspace, _in(17), plugins=["automation"])] == [True]  # the scheduler's way
    assert len(_tasks(workspace)) == 1
    result = CliRunner().invoke(cli, ["--db", workspace.path, "rules", "run", "--now", _in(40)])
    assert result.exit_code == 0 and "1 runs ok" in result.output, result.output  # Busy went quiet after day 10


def _bouncer(ws, name, when, then):
    return rules.save(
        ws,
        {
            "name": name,
            "table": "deals",
            "trigger": "update",
            "conditions": [{"field": "currency", "op": "changed to", "value": when}],
            "actions": [{"type": "set_field", "field": "currency", "value": then}],
        },
    )


def test_rules_cannot_loop(workspace):
    itself = rules.save(
        workspace,
        {
            "name": "Rename forever",
            "table": "deals",
            "trigger": "update",
            "conditions": [{"field": "title", "op": "contains", "value": "x"}],
            "actions": [{"type": "set_field", "field": "title", "value": "x again"}],
        },
    )
    deal = _deal(workspace)
    workspace.store.update("deals", deal["id"], {"title": "x"})
    assert workspace.store.get("deals", deal["id"])["title"] == "x again"
    assert len(rules.runs(workspace, itself["id"])) == 1  # its own write does not trigger it again
    # a ping-pong of two rules: A → B → (A stops: it caused the change)
    a = _bouncer(workspace, "USD to EUR", "USD", "EUR")
    b = _bouncer(workspace, "EUR to USD", "EUR", "USD")
    workspace.store.update("deals", deal["id"], {"currency": "USD"})
    assert [len(rules.runs(workspace, r["id"])) for r in (a, b)] == [1, 1]
    assert workspace.store.get("deals", deal["id"])["currency"] == "USD"


def test_depth_is_limited_to_three_rules(workspace):
    chain = [_bouncer(workspace, f"step {i}", f"C{i}", f"C{i + 1}") for i in range(5)]
    deal = _deal(workspace)
    workspace.store.update("deals", deal["id"], {"currency": "C0"})
    assert [len(rules.runs(workspace, r["id"])) for r in chain] == [1, 1, 1, 0, 0]
    assert workspace.store.get("deals", deal["id"])["currency"] == "C3"


def test_a_failing_action_is_reported_and_the_write_kept(workspace):
    rule = rules.save(
        workspace,
        {
            "name": "Impossible probability",
            "table": "deals",
            "trigger": "update",
            "conditions": [{"field": "stage", "op": "changed to", "value": "proposal"}],
            "actions": [
                {"type": "set_field", "field": "probability", "value": 500},
                {"type": "create_task", "subject": "Still created"},
            ],
        },
    )
    deal = _deal(workspace)
    workspace.store.update("deals", deal["id"], {"stage": "proposal"})
    stored = workspace.store.get("deals", deal["id"])
    assert stored["stage"] == "proposal" and stored["probability"] != 500
    (run,) = rules.runs(workspace, rule["id"])
    assert run["status"] == "failed" and "set_field failed" in run["detail"] and "probability" in run["detail"]
    assert [t["subject"] for t in _tasks(workspace)] == ["Still created"]
    note = workspace.query("SELECT subject, body FROM activities WHERE kind = 'note' AND deal_id = ?", [deal["id"]])
    assert note[0]["subject"].endswith("(failed)") and "set_field failed" in note[0]["body"]


def _alter(path, sql):
    """A schema change by another program (a migration, an admin's tool), outside this Store."""
    conn = sqlite3.connect(path)
    conn.execute(sql)
    conn.commit()
    conn.close()


def test_a_removed_field_disables_the_rule_with_a_notice(tmp_path):
    path = tmp_path / "crm.db"
    make_workspace(path).close()
    _alter(path, "ALTER TABLE contacts ADD COLUMN nickname TEXT")
    ws = Workspace.open(path, user="tester")
    rule = rules.save(
        ws,
        {
            "name": "Nicknamed",
            "table": "contacts",
            "trigger": "change",
            "conditions": [{"field": "nickname", "op": "is not empty"}],
            "actions": [{"type": "add_tag", "tag": "nick"}],
        },
    )
    ws.close()
    _alter(path, "ALTER TABLE contacts DROP COLUMN nickname")
    ws = Workspace.open(path, user="tester")
    contact = ws.store.insert("contacts", {"first_name": "Kept"})
    assert ws.store.get("contacts", contact["id"])["first_name"] == "Kept"
    stored = rules.get(ws, rule["id"])
    assert stored["enabled"] == 0 and "has no field 'nickname' any more" in stored["disabled_reason"]
    listed = CliRunner().invoke(cli, ["--db", str(path), "rules", "list"])
    assert "DISABLED" in listed.output and "nickname" in listed.output
    with pytest.raises(ValidationError, match="nickname"):
        rules.set_enabled(ws, rule["id"], True)
    ws.close()


def test_bad_rules_are_refused_with_every_problem(workspace):
    with pytest.raises(ValidationError) as caught:
        rules.save(
            workspace,
            {
                "name": "",
                "table": "deals",
                "trigger": "time",
                "conditions": [{"field": "nope", "op": "equals", "value": 1}, {"field": "stage", "op": "resembles"}],
                "actions": [{"type": "launch_rocket"}],
            },
        )
    errors = caught.value.errors
    assert set(errors) >= {"name", "conditions[1]", "conditions[2]", "conditions", "actions[1]"}
    assert workspace.query("SELECT * FROM workflow_rules") == []


def test_webhook_action_queues_a_delivery(workspace):
    from crm_workspace_automation import webhooks

    workspace.set_setting("webhooks_allow_private", True)
    sub = webhooks.subscribe(workspace, "http://127.0.0.1:9/hook", "ping")
    rules.save(
        workspace,
        {
            "name": "Tell accounting",
            "table": "deals",
            "trigger": "update",
            "conditions": [{"field": "status", "op": "changed to", "value": "won"}],
            "actions": [{"type": "webhook", "subscription": sub["id"], "event": "deal.closed"}],
        },
    )
    deal = _deal(workspace)
    workspace.store.update("deals", deal["id"], {"stage": "won"})
    (row,) = workspace.query("SELECT event, payload FROM webhook_deliveries")
    body = json.loads(row["payload"])
    assert row["event"] == "deal.closed" and body["data"]["rule"]["name"] == "Tell accounting"


def test_send_email_action_uses_the_core_outbox(workspace):
    pytest.importorskip("crm_workspace.services.outbox")
    rules.save(
        workspace,
        {
            "name": "Mail the team",
            "table": "deals",
            "trigger": "update",
            "conditions": [{"field": "status", "op": "changed to", "value": "won"}],
            "actions": [{"type": "send_email", "to": "team@example.com", "subject": "Won: {{ title }}", "text": "!"}],
        },
    )
    deal = _deal(workspace)
    workspace.store.update("deals", deal["id"], {"stage": "won"})
    rows = workspace.query("SELECT recipient, subject, plugin FROM mail_outbox")
    assert rows == [{"recipient": "team@example.com", "subject": "Won: Rocket", "plugin": "automation"}]


def test_the_command_line(workspace, tmp_path):
    spec = tmp_path / "rule.json"
    spec.write_text(
        json.dumps(
            {
                "name": "Won: thank",
                "table": "deals",
                "trigger": "update",
                "conditions": [{"field": "status", "op": "changed to", "value": "won"}],
                "actions": [{"type": "create_task", "subject": "Send a thank-you"}],
            }
        )
    )
    runner = CliRunner()
    added = runner.invoke(cli, ["--db", workspace.path, "rules", "add", "--json-file", str(spec)])
    assert added.exit_code == 0 and "rule #1: Won: thank" in added.output, added.output
    listed = json.loads(runner.invoke(cli, ["--db", workspace.path, "rules", "list", "--json"]).output)
    assert listed[0]["state"] == "enabled" and listed[0]["conditions"] == "status changed to won"
    assert runner.invoke(cli, ["--db", workspace.path, "rules", "disable", "1"]).exit_code == 0
    assert rules.get(workspace, 1)["enabled"] == 0
    spec.write_text("{not json")
    bad = runner.invoke(cli, ["--db", workspace.path, "rules", "add", "--json-file", str(spec)])
    assert bad.exit_code != 0 and "is not JSON" in bad.output and "Traceback" not in bad.output


def test_a_failing_action_inside_a_bulk_write_keeps_the_rows(workspace):
    """A bulk load opens no savepoints of its own: each action still gets one."""
    rules.save(
        workspace,
        {
            "name": "Bad default",
            "table": "deals",
            "trigger": "create",
            "conditions": [],
            "actions": [{"type": "set_field", "field": "probability", "value": -5}, {"type": "add_tag", "tag": "x"}],
        },
    )
    with workspace.store.transaction(savepoints=False):
        workspace.store.insert_many("deals", [{"title": f"D{i}", "stage": "qualification"} for i in range(3)])
    assert workspace.store.scalar("SELECT count(*) FROM deals") == 3
    assert workspace.store.scalar("SELECT count(*) FROM deals WHERE probability = -5") == 0
    assert [r["status"] for r in rules.runs(workspace)] == ["failed"] * 3


# ------------------------------------ a rule acts with its author's rights
@pytest.fixture
def team(workspace):
    for name, role in (("tester", "admin"), ("root", "admin"), ("mallory", "member")):
        workspace.store.insert("users", {"username": name, "role": role, "active": 1, "email": f"{name}@example.com"})
    return workspace.as_user("root"), workspace.as_user("mallory")


def test_a_member_cannot_make_a_rule_on_users_to_promote_herself(team):
    _admin, member = team
    spec = {
        "name": "promote",
        "table": "users",
        "trigger": "update",
        "conditions": [],
        "actions": [{"type": "set_field", "field": "role", "value": "admin"}],
    }
    with pytest.raises(ValidationError):
        rules.save(member, spec)
    assert member.store.query("SELECT role FROM users WHERE username = 'mallory'")[0]["role"] == "member"


@pytest.mark.parametrize("table", ["api_tokens", "settings", "login_sessions", "audit_log", "plugin_state"])
def test_no_rule_watches_a_private_table(team, table):
    admin, _member = team
    spec = {
        "name": "x",
        "table": table,
        "trigger": "change",
        "conditions": [],
        "actions": [{"type": "create_task", "subject": "{{ token_hash }}"}],
    }
    with pytest.raises(ValidationError):
        rules.save(admin, spec)


def test_an_admins_write_runs_a_members_rule_with_the_members_rights(team):
    admin, member = team
    admin.set_setting("members_edit_all", False)
    deal = admin.store.insert("deals", {"title": "Big", "stage": "qualification", "amount": 1, "owner": "root"})
    rules.save(
        member,
        {
            "name": "steal",
            "table": "deals",
            "trigger": "update",
            "conditions": [],
            "actions": [{"type": "set_field", "field": "owner", "value": "mallory"}],
        },
    )
    admin.store.update("deals", deal["id"], {"amount": 2})
    assert admin.store.query("SELECT owner FROM deals WHERE id = ?", [deal["id"]])[0]["owner"] == "root"
    (run,) = rules.runs(admin)
    assert run["status"] == "failed" and "mallory" in run["detail"]


def test_editing_a_rule_makes_the_editor_its_author(team):
    admin, member = team
    rule = rules.save(
        admin,
        {
            "name": "r",
            "table": "deals",
            "trigger": "update",
            "conditions": [],
            "actions": [{"type": "create_task", "subject": "hi"}],
        },
    )
    changed = rules.save(member, {**rule, "table": "deals"}, rule["id"], version=rule["version"])
    assert changed["owner"] == "mallory"


def test_a_rule_never_reads_a_hidden_column(team, monkeypatch):
    from crm_workspace_automation import events

    admin, _member = team
    monkeypatch.setattr(events, "_SECRET", {})
    monkeypatch.setattr(events, "is_hidden", lambda table, column: (table, column) == ("deals", "title"))
    rules.save(
        admin,
        {
            "name": "leak",
            "table": "deals",
            "trigger": "create",
            "conditions": [],
            "actions": [{"type": "create_task", "subject": "secret=[{{ title }}]"}],
        },
    )
    deal = admin.store.insert("deals", {"title": "hunter2", "stage": "qualification", "amount": 1})
    (task,) = admin.query("SELECT subject FROM activities WHERE kind = 'task' AND deal_id = ?", [deal["id"]])
    assert task["subject"] == "secret=[]"


def test_an_erasure_never_sends_the_erased_data_to_webhooks(workspace, tmp_path):
    from crm_workspace_automation import webhooks

    from crm_workspace.services import privacy

    workspace.set_setting("webhooks_allow_private", True)
    webhooks.subscribe(workspace, "http://127.0.0.1:9/hook", "contacts.*")
    contact = workspace.store.insert(
        "contacts", {"first_name": "Zelda", "last_name": "Quark", "email": "zq@example.org"}
    )
    privacy.erase(workspace, "zq@example.org", tmp_path)
    payloads = " ".join(r["payload"] for r in workspace.store.query("SELECT payload FROM webhook_events"))
    assert "Quark" not in payloads and "zq@example.org" not in payloads
    assert '"Erased"' in payloads and str(contact["id"]) in payloads  # the erasure itself is announced
