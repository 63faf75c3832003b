"""The marketing demo: consent for part of the audience, a few segments and lists, campaigns with history."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import TYPE_CHECKING

from .segments import add_members, rebuild, save_segment

if TYPE_CHECKING:
    from crm_workspace import Workspace

#: At most this many contacts get demo consent (each is an audited update, like a real sign-up).
MAX_CONSENTS = 3000

SEGMENTS = (
    (
        "Newsletter audience",
        {"match": "all", "conditions": [{"field": "consent", "op": "is", "value": "given"}]},
        "Everyone who gave marketing consent.",
    ),
    (
        "Warm leads (DACH)",
        {
            "match": "all",
            "conditions": [
                {"field": "lifecycle_stage", "op": "in", "value": ["lead", "marketing_qualified", "sales_qualified"]},
                {"field": "organization.country", "op": "in", "value": ["DE", "AT", "CH"]},
            ],
        },
        "Leads at organizations in Germany, Austria and Switzerland.",
    ),
    (
        "Active customers",
        {
            "match": "all",
            "conditions": [
                {"field": "lifecycle_stage", "op": "in", "value": ["customer", "advocate"]},
                {"field": "last_activity", "op": "in_last_days", "value": 120},
            ],
        },
        "Customers and advocates we spoke to in the last four months.",
    ),
    (
        "Dormant contacts",
        {
            "match": "all",
            "conditions": [
                {"field": "last_activity", "op": "not_in_last_days", "value": 180},
                {"field": "email", "op": "is_not_empty"},
            ],
        },
        "Nobody has been in touch for six months: a re-engagement audience.",
    ),
)


def add_demo(workspace: Workspace, seed: int, size: Mapping[str, int], today: str | None) -> None:
    rng = random.Random(seed + 19)
    _consent(workspace, rng, today)
    for name, value, description in SEGMENTS:
        save_segment(workspace, name, value, description=description)
    if workspace.store.scalar("SELECT 1 FROM sqlite_master WHERE name = 'contact_tags'"):
        save_segment(
            workspace,
            "VIP customers",
            {"match": "all", "conditions": [{"field": "tags", "op": "has_any", "value": ["vip"]}]},
            description="Tagged vip.",
        )
        event = save_segment(workspace, "Event 2026 guests", kind="static", description="The guest list, by hand.")
        guests = workspace.query("SELECT contact_id FROM contact_tags WHERE tag = 'event-2026' ORDER BY contact_id")
        add_members(workspace, event["id"], [r["contact_id"] for r in guests])
    rebuild(workspace, relative_only=True)
    from .demo_history import add_history

    add_history(workspace, seed, size, today)


def _consent(workspace: Workspace, rng: random.Random, today: str | None) -> None:
    """About 45% of contacts with an address signed up at some point (each an audited consent change)."""
    rows = workspace.query("SELECT id, created_at FROM contacts WHERE email IS NOT NULL AND email != '' ORDER BY id")
    chosen = [r for r in rows if rng.random() < 0.45][:MAX_CONSENTS]
    sources = ("web form newsletter", "event sign-up", "webinar registration", "imported opt-in list")
    updates = [
        (
            r["id"],
            {"marketing_consent": 1, "consent_source": rng.choice(sources), "consent_at": r["created_at"] or today},
            None,
        )
        for r in chosen
    ]
    # a few later withdrew (the unsubscribe link of an earlier campaign)
    withdrawn = [(i, {"marketing_consent": 0, "consent_source": "unsubscribe link"}, None) for i, *_ in updates[::17]]
    with workspace.store.context(demo=True):
        workspace.store.update_many("contacts", updates)
        workspace.store.update_many("contacts", withdrawn)
