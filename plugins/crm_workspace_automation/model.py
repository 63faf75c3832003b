"""What the Automation page and ``ws.df("automation.*")`` show: rules, runs, subscriptions, deliveries."""

from __future__ import annotations

import json
from typing import Any

import param

from crm_workspace import Workspace

from . import rules, webhooks


def _describe_conditions(conditions: list[dict]) -> str:
    parts = []
    for c in conditions:
        from .conditions import NO_ACTIVITY, op_of

        op = op_of(c)
        if op == NO_ACTIVITY:
            parts.append(f"no activity for {c.get('value')} days")
        elif op in ("is empty", "is not empty"):
            parts.append(f"{c.get('field')} {op}")
        else:
            value = c.get("value")
            value = ", ".join(map(str, value)) if isinstance(value, list) else value
            parts.append(f"{c.get('field')} {op} {value}")
    return " and ".join(parts) or "always"


def _describe_actions(actions: list[dict]) -> str:
    parts = []
    for a in actions:
        details = ", ".join(f"{k}={v}" for k, v in a.items() if k != "type")
        parts.append(f"{a.get('type')}({details})")
    return "; ".join(parts)


def rule_rows(ws: Workspace) -> list[dict[str, Any]]:
    """Every rule with its conditions and actions in words and its run counts."""
    rules.check_all(ws)
    counts = {
        r["rule_id"]: r
        for r in ws.store.query(
            "SELECT rule_id, count(*) AS runs, sum(status = 'failed') AS failed FROM rule_runs GROUP BY rule_id"
        )
    }
    found = []
    for rule in rules.rules(ws):
        stats = counts.get(rule["id"], {})
        found.append(
            {
                "id": rule["id"],
                "name": rule["name"],
                "table_name": rule["table_name"],
                "trigger": rule["trigger"],
                "state": "enabled" if rule["enabled"] else "DISABLED",
                "conditions": _describe_conditions(rule["conditions"]),
                "actions": _describe_actions(rule["actions"]),
                "runs": stats.get("runs") or 0,
                "failed": stats.get("failed") or 0,
                "notice": rule["disabled_reason"] or "",
                "version": rule["version"],
            }
        )
    return found


def data_views(workspace: Workspace) -> dict:
    import pandas as pd

    def automation_rules():
        """Every workflow rule, its conditions and actions in words, runs and failures."""
        return pd.DataFrame(rule_rows(workspace))

    def automation_runs(rule_id=None, limit=100):
        """The rule run log, newest first."""
        return pd.DataFrame(rules.runs(workspace, rule_id, int(limit)), columns=list(rules.RUN_COLUMNS))

    def automation_subscriptions():
        """Webhook subscriptions with their state, notice and delivery counts."""
        return pd.DataFrame(webhooks.subscriptions(workspace))

    def automation_deliveries(subscription=None, status=None, limit=100):
        """The webhook delivery log, newest first."""
        rows = webhooks.deliveries(workspace, subscription=subscription, status=status, limit=int(limit))
        return pd.DataFrame(rows, columns=list(webhooks.DELIVERY_COLUMNS))

    return {
        "automation.rules": automation_rules,
        "automation.runs": automation_runs,
        "automation.subscriptions": automation_subscriptions,
        "automation.deliveries": automation_deliveries,
    }


class RuleDraft(param.Parameterized):
    """A rule as the page's form edits it: a table, a trigger, rows of conditions and of actions."""

    workspace = param.ClassSelector(class_=Workspace)
    rule_id = param.Integer(default=None, allow_None=True, doc="The rule being edited; None: a new one.")
    version = param.Integer(default=None, allow_None=True)
    rule_name = param.String(default="", label="Rule name")
    table = param.Selector(default="deals", objects=["deals", "contacts"])
    when = param.Selector(default="update", objects=list(rules.TRIGGERS), doc="The trigger.")
    conditions = param.List(default=[], doc="[{field, op, value}]")
    actions = param.List(default=[], doc="[{type, ...}]")

    def __init__(self, **params):
        super().__init__(**params)
        self.param.table.objects = self.tables()
        if self.table not in self.param.table.objects and self.param.table.objects:
            self.table = self.param.table.objects[0]

    def tables(self) -> list[str]:
        names = [
            r["name"]
            for r in self.workspace.store.query(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN"
                " ('contacts', 'organizations', 'deals', 'activities', 'tickets', 'contact_tags') ORDER BY name"
            )
        ]
        return names or ["contacts"]

    def fields(self) -> list[str]:
        try:
            return sorted(self.workspace.store.columns(self.table))
        except Exception:  # a table that went away: nothing to offer
            return []

    def load(self, rule_id: int) -> None:
        rule = rules.get(self.workspace, rule_id)
        self.param.update(
            rule_id=rule["id"],
            version=rule["version"],
            rule_name=rule["name"],
            table=rule["table_name"] if rule["table_name"] in self.param.table.objects else self.table,
            when=rule["trigger"],
            conditions=list(rule["conditions"]),
            actions=list(rule["actions"]),
        )

    def reset(self) -> None:
        self.param.update(rule_id=None, version=None, rule_name="", conditions=[], actions=[])

    def spec(self) -> dict:
        return {
            "name": self.rule_name,
            "table": self.table,
            "trigger": self.when,
            "conditions": self.conditions,
            "actions": self.actions,
        }

    def save(self) -> dict:
        rule = rules.save(self.workspace, self.spec(), self.rule_id, version=self.version)
        self.reset()
        self.workspace.changed()
        return rule


def parse_value(text: str) -> Any:
    """A value typed in the form: JSON when it parses (numbers, lists), else the text."""
    text = str(text or "").strip()
    try:
        return json.loads(text)
    except ValueError:
        return text
