"""Demo automation: a few rules a sales team would write, and one webhook subscription, disabled.

The subscription points at ``example.invalid`` (a name that never resolves) and is written
already disabled, with its notice, so the page shows what a failing receiver looks like
without the demo ever sending anything.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping

from crm_workspace.services.demo import bulk, demo_today, iso

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
            "created_at": now,
        }
        for rule in RULES
    ]
    store.insert_many("workflow_rules", rows, **bulk(size))
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
