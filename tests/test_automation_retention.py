"""The automation plugin's retention: rule runs pruned without making a rule run twice, and the
hourly scans of the delivery log and the rule runs read through indexes, never the whole table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from crm_workspace_automation import retention, rules

from crm_workspace import PermissionDenied, ValidationError
from crm_workspace.data import retention as core_retention
from crm_workspace.services.scheduler import run_ticks


def _in(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _quiet_lead_rule(ws, name="Quiet lead"):
    return rules.save(
        ws,
        {
            "name": name,
            "table": "contacts",
            "trigger": "time",
            "conditions": [
                {"field": "lifecycle_stage", "op": "equals", "value": "lead"},
                {"op": "no activity for days", "value": 14},
            ],
            "actions": [{"type": "create_task", "subject": "Check in with {{ first_name }}"}],
        },
    )


def _runs(ws) -> list[tuple[int, str, str]]:
    return [
        (r["rule_id"], r["record_id"], r["at"])
        for r in ws.store.query("SELECT rule_id, record_id, at FROM rule_runs ORDER BY at, id")
    ]


def test_old_runs_go_but_each_records_latest_stays_so_no_rule_runs_twice(workspace):
    ws = workspace
    rule = _quiet_lead_rule(ws)
    gone = _quiet_lead_rule(ws, "Removed later")
    quiet = ws.store.insert("contacts", {"first_name": "Quiet", "lifecycle_stage": "lead"})
    busy = ws.store.insert("contacts", {"first_name": "Busy", "lifecycle_stage": "lead"})
    first, second = _in(15), _in(40)
    assert rules.run_time_rules(ws, now=first)["ok"] == 4  # both rules on both leads
    ws.store.delete("workflow_rules", gone["id"])
    ws.store.insert("activities", {"kind": "call", "contact_id": busy["id"], "occurred_at": _in(20)})
    assert rules.run_time_rules(ws, now=second)["ok"] == 1  # Busy went quiet again; Quiet never woke up
    assert len(_runs(ws)) == 5
    audited = ws.store.scalar("SELECT count(*) FROM audit_log")

    assert retention.prune_runs(ws, days=0, now=_in(200)) == 0  # 0 keeps everything
    assert retention.prune_runs(ws, now=_in(60)) == 0  # rules_retention_days: 90
    # at day 200 every run is older than 90 days: Busy's first one is superseded and the
    # removed rule's are nobody's; Quiet's only run says it ran on this quiet spell
    assert retention.prune_runs(ws, now=_in(200)) == 3
    assert _runs(ws) == [(rule["id"], str(quiet["id"]), first), (rule["id"], str(busy["id"]), second)]
    assert ws.store.scalar("SELECT count(*) FROM audit_log") == audited  # no copies in the audit trail
    assert rules.run_time_rules(ws, now=_in(201))["ok"] == 0  # nobody gets the rule twice
    assert retention.prune_runs(ws, now=_in(200)) == 0


def test_the_tick_prunes_rule_runs_with_the_setting(workspace):
    ws = workspace
    _quiet_lead_rule(ws)
    busy = ws.store.insert("contacts", {"first_name": "Busy", "lifecycle_stage": "lead"})
    first, second = _in(15), _in(40)
    rules.run_time_rules(ws, now=first)
    ws.store.insert("activities", {"kind": "call", "contact_id": busy["id"], "occurred_at": _in(20)})
    rules.run_time_rules(ws, now=second)
    assert [at for _rule, _record, at in _runs(ws)] == [first, second]
    ws.set_setting("rules_retention_days", 10)
    assert [r.ok for r in run_ticks(ws, _in(55), plugins=["automation"])] == [True]
    assert [at for _rule, _record, at in _runs(ws)] == [second]  # the latest one only
    with pytest.raises(ValidationError):
        ws.set_setting("rules_retention_days", "a quarter")


def test_the_scans_read_through_indexes(workspace):
    store = workspace.store
    deliveries = core_retention.plan(
        store, "webhook_deliveries", retention.DELIVERIES_DONE, ["x"], index="idx_webhook_deliveries_finished"
    )
    assert "USING INDEX idx_webhook_deliveries_finished" in deliveries and "SCAN" not in deliveries, deliveries
    runs = core_retention.plan(store, "rule_runs", retention.RUNS_DONE, ["x"], index="idx_rule_runs_at", walk="at")
    assert "USING INDEX idx_rule_runs_at" in runs and "INDEX idx_rule_runs_rule (rule_id=? AND record_id=?" in runs, (
        runs
    )
    assert "SCAN" not in runs, runs


def test_only_an_admin_or_the_tick_prunes_rule_runs(workspace):
    ws = workspace
    ws.store.insert("users", {"username": "tester", "role": "admin"})
    ws.store.insert("users", {"username": "mia", "role": "member"})
    with pytest.raises(PermissionDenied, match="only an admin may prune rule_runs"):
        retention.prune_runs(ws.as_user("mia"), now=_in(200))
    with pytest.raises(PermissionDenied, match="only an admin may prune webhook_deliveries"):
        retention.prune(ws.as_user("mia"), now=_in(200))
    assert retention.prune_runs(ws.as_system("automation"), now=_in(200)) == 0
