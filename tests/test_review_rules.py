"""Security review: a workflow rule acts with its author's rights and never reads credentials."""

from __future__ import annotations

import pytest
from crm_workspace_automation import rules

from crm_workspace import ValidationError


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
