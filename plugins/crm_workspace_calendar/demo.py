"""The calendar's demo rows: each team member's next two weeks (meetings and tasks), so the page is not empty."""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING

from crm_workspace.services.demo import bulk, demo_today, iso

if TYPE_CHECKING:
    from crm_workspace import Workspace

MEETINGS = ("Demo meeting", "Quarterly review", "Kick-off meeting", "Contract walkthrough", "Onboarding call")
TASKS = ("Send the proposal", "Follow up on the quote", "Prepare the renewal offer", "Call back about pricing")
PER_USER = {"meeting": 4, "task": 3}


def add_upcoming(workspace: Workspace, seed: int, size: Mapping[str, int], today: str | None) -> None:
    """For every member and admin: a few meetings (working hours, next 1–14 days) and tasks due soon."""
    rng = random.Random(seed + 11)
    store = workspace.store
    owners = [r["username"] for r in store.query("SELECT username FROM users WHERE role != 'viewer' ORDER BY rowid")]
    contacts = store.query("SELECT id, organization_id FROM contacts ORDER BY id LIMIT 500")
    if not owners or not contacts:
        return
    start = demo_today(today).replace(hour=0, minute=0, second=0, microsecond=0)
    rows = []
    for owner in owners:
        for kind, count in PER_USER.items():
            for _ in range(count):
                contact = rng.choice(contacts)
                day = start + timedelta(days=rng.randint(1, 14))
                at = day.replace(hour=rng.choice((9, 10, 11, 13, 14, 15, 16)), minute=rng.choice((0, 30)))
                rows.append(
                    {
                        "kind": kind,
                        "subject": rng.choice(MEETINGS if kind == "meeting" else TASKS),
                        "contact_id": contact["id"],
                        "organization_id": contact["organization_id"],
                        "occurred_at": iso(at if kind == "meeting" else start),
                        "due_at": iso(at) if kind == "task" else None,
                        "done": 0,
                        "owner": owner,
                        "created_at": iso(start),
                    }
                )
    store.insert_many("activities", rows, **bulk(size))
