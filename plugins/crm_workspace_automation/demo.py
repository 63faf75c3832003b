"""Demo automation: a few rules a sales team would write, and one webhook subscription, disabled.

The subscription points at ``example.invalid`` (a name that never resolves) and is written
already disabled, with its notice, so the page shows what a failing receiver looks like
without the demo ever sending anything.

The rules were written 90 days before ``demo_today()`` and the time rule has run since
(``settle``): every quiet lead got its check-in task when the rule came or when it went
quiet, and again every 30 quiet days, up to ``demo_today()``, with the
rule's run and its timeline note. So the served demo's first tick finds nothing due that
was not due a moment ago, instead of creating a burst of tasks dated today.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta

from crm_workspace.services.demo import bulk, demo_today, iso

PLUGIN = "automation"
#: The demo's rules were written this many days before ``demo_today()``; the time rule ran since.
RULES_AGE_DAYS = 90

RULES = [
    {
        "name": "Proposal sent: follow up in 3 days",
        "table_name": "deals",
        "trigger": "update",
        "conditions": [{"field": "stage", "op": "changed to", "value": "proposal"}],
        "actions": [{"type": "create_task", "subject": "Follow up on the proposal: {{ title }}", "due_days": 3}],
    },
    {
        "name": "Big deal: tell the owner",
        "table_name": "deals",
        "trigger": "change",
        "conditions": [
            {"field": "amount", "op": ">", "value": 100000},
            {"field": "status", "op": "equals", "value": "open"},
        ],
        "actions": [
            {"type": "create_task", "subject": "Big deal: review {{ title }} with your manager", "due_days": 1}
        ],
    },
    {
        "name": "New customer: tag",
        "table_name": "contacts",
        "trigger": "update",
        "conditions": [{"field": "lifecycle_stage", "op": "changed to", "value": "customer"}],
        "actions": [{"type": "add_tag", "tag": "customer"}],
    },
    {
        "name": "Quiet lead: check in after 30 days",
        "table_name": "contacts",
        "trigger": "time",
        "conditions": [
            {"field": "lifecycle_stage", "op": "in", "value": ["lead", "sales_qualified"]},
            {"op": "no activity for days", "value": 30},
        ],
        "actions": [
            {"type": "create_task", "subject": "Check in with {{ first_name }} {{ last_name }}", "due_days": 2}
        ],
    },
]


def add_demo(workspace, size: Mapping[str, int], today: str | None) -> None:
    store = workspace.store
    now = iso(demo_today(today))
    if store.scalar("SELECT count(*) FROM workflow_rules"):
        return
    owner = store.scalar("SELECT username FROM users WHERE role = 'admin' ORDER BY rowid LIMIT 1")
    rows = [
        {
            **rule,
            "conditions": json.dumps(rule["conditions"]),
            "actions": json.dumps(rule["actions"]),
            "enabled": 1,
            "owner": owner,
            "created_at": iso(demo_today(today) - timedelta(days=RULES_AGE_DAYS)),
        }
        for rule in RULES
    ]
    store.insert_many("workflow_rules", rows, **bulk(size))
    settle(workspace, size, demo_today(today))
    store.insert_many(
        "webhook_subscriptions",
        [
            {
                "url": "https://hooks.example.invalid/crm",
                "events": json.dumps(["deal.won", "deal.lost", "contacts.created"]),
                "description": "Accounting (demo): an address that never answers",
                "enabled": 0,
                "failures": 10,
                "disabled_reason": f"disabled at {now} after 10 failed deliveries in a row"
                " (last: cannot resolve the host 'hooks.example.invalid')",
                "secret": secrets.token_urlsafe(32),
                "owner": owner,
                "created_at": now,
            }
        ],
        **bulk(size),
    )


def settle(workspace, size: Mapping[str, int], today: datetime) -> None:
    """Record the time rules' runs up to ``today``, as the tick would have made them."""
    from . import rules
    from .actions import fill, links

    store = workspace.store
    tasks, runs, notes = [], [], []
    for rule in rules.rules(workspace, enabled_only=True):
        days = next((int(c["value"]) for c in rule["conditions"] if c.get("op") == "no activity for days"), 0)
        creates = [a for a in rule["actions"] if a.get("type") == "create_task"]
        if rule["trigger"] != "time" or not days or len(creates) != len(rule["actions"]):
            continue
        # every record the rule matches, with the last moment it was active (cutoff: today)
        horizon = iso(today + timedelta(days=days))
        for record in rules.quiet_records(workspace, rule, horizon, limit=10**9):
            quiet = datetime.fromisoformat(record.pop("_quiet_since").replace("Z", "+00:00"))
            at = quiet + timedelta(days=days, hours=1)  # the first tick after it went quiet
            at = max(at, datetime.fromisoformat(rule["created_at"].replace("Z", "+00:00")))
            while at <= today:
                done = []
                for action in creates:
                    due = at + timedelta(days=float(action.get("due_days") or 0))
                    owner = action.get("assign_to") or record.get("owner") or rule.get("owner")
                    tasks.append(
                        {
                            "kind": "task",
                            "subject": fill(action.get("subject"), record)[:200],
                            "body": fill(action.get("body") or f"Created by the rule '{rule['name']}'.", record),
                            "due_at": iso(due),
                            "done": int(due < today - timedelta(days=3)),  # the team worked the older ones
                            "owner": owner,
                            **links(workspace, rule["table_name"], record),
                            "created_at": iso(at),
                            "updated_at": iso(at),
                            "updated_by": f"system:{PLUGIN}",
                        }
                    )
                    done.append(f"task for {owner or 'nobody'}")
                detail = "; ".join(done)
                runs.append(
                    {
                        "rule_id": rule["id"],
                        "at": iso(at),
                        "table_name": rule["table_name"],
                        "record_id": str(record["id"]),
                        "trigger": "time",
                        "status": "ok",
                        "detail": detail,
                        "user": f"system:{PLUGIN}",
                    }
                )
                notes.append(
                    {
                        "kind": "note",
                        "subject": f"{rules.NOTE_PREFIX}{rule['name']} (ok)"[:200],
                        "body": detail,
                        "occurred_at": iso(at),
                        "owner": record.get("owner"),
                        **links(workspace, rule["table_name"], record),
                        "created_at": iso(at),
                        "updated_at": iso(at),
                    }
                )
                at += timedelta(days=days, hours=1)  # the task is activity: quiet again from its creation
    if runs:
        options = bulk(size)
        store.insert_many("activities", tasks, **options)
        store.insert_many("activities", notes, **options)
        store.insert_many("rule_runs", runs, **options)
