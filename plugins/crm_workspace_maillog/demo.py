"""A few messages waiting on the review list, so the Mail log page has something to show."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import TYPE_CHECKING

from crm_workspace.services.demo import bulk, demo_today, iso

if TYPE_CHECKING:
    from crm_workspace import Workspace

PEOPLE = (
    ("Priya Raman", "priya.raman@northwind-demo.example", "Re: pricing for the analytics add-on"),
    ("Jonas Berg", "jonas@fjord-logistics.example", "Introduction: Fjord Logistics"),
    ("Claire Dubois", "c.dubois@atelier-demo.example", "Fwd: workshop dates in January"),
)


def add_demo_review(workspace: Workspace, seed: int, size: dict, today: str | None) -> None:
    rng = random.Random(seed + 17)
    now = demo_today(today)
    store = workspace.store
    owner = store.scalar("SELECT username FROM users WHERE role != 'viewer' ORDER BY rowid LIMIT 1")
    messages, review, mentions = [], [], []
    for number, (name, address, subject) in enumerate(PEOPLE, start=1):
        when = iso(now - timedelta(days=rng.randrange(1, 10), hours=rng.randrange(0, 9)))
        message_id = f"<demo-{seed}-{number}@mail.example>"
        messages.append(
            {
                "message_id": message_id,
                "subject": subject,
                "sender": address,
                "sent_at": when,
                "direction": "in",
                "owner": owner,
                "text": f"Hello,\n\n{subject.split(': ', 1)[-1]}: could we talk this week?\n\nBest,\n{name}",
                "status": "pending",
                "logged_at": when,
            }
        )
        review.append(
            {"address": address, "name": name, "message_ref": message_id, "first_seen": when, "last_seen": when}
        )
        mentions.append({"address": address, "message_id": message_id})
    store.insert_many("maillog_messages", messages, **bulk(size))
    store.insert_many("maillog_review", review, **bulk(size))
    store.insert_many("maillog_mentions", mentions, **bulk(size))
