"""The lifecycle tracker's demo rows: each contact's path to its current stage, in time order."""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from crm_workspace.data.schema import LIFECYCLE_STAGES
from crm_workspace.services.demo import bulk, demo_today, iso

if TYPE_CHECKING:
    from crm_workspace import Workspace


def add_demo_history(workspace: Workspace, seed: int, size: Mapping[str, int], today: str | None) -> None:
    rng = random.Random(seed + 3)
    store = workspace.store
    owners = [r["username"] for r in store.query("SELECT username FROM users WHERE role != 'viewer' ORDER BY rowid")]
    contacts = store.conn.execute("SELECT id, lifecycle_stage, created_at FROM contacts ORDER BY id")
    events = _events(rng, contacts, owners or ["ana"], demo_today(today))
    # the trail is history, not a write by anyone: no audit rows, no events
    store.insert_many("lifecycle_events", events, **bulk(size))


def _events(rng: random.Random, contacts, owners: list[str], today: datetime) -> Iterator[dict]:
    forward = LIFECYCLE_STAGES[:-1]
    for contact_id, current, created_at in contacts:
        if current is None or not created_at:
            continue
        if current == "churned":
            path = [*forward[: forward.index("customer") + 1], "churned"]
        elif current in forward:
            path = list(forward[: forward.index(current) + 1])
        else:
            continue  # a stage of the workspace's own, outside the default path
        start = rng.randrange(0, min(2, len(path)))  # some enter as leads directly
        path = [s for j, s in enumerate(path) if j >= start and (j == len(path) - 1 or rng.random() > 0.15)]
        moment = datetime.fromisoformat(created_at)
        previous = None
        step = max(1, int((today - moment).total_seconds() / (len(path) + 1)))
        for stage in path:
            yield {
                "contact_id": contact_id,
                "from_stage": previous,
                "to_stage": stage,
                "at": iso(moment),
                "by": rng.choice(owners),
            }
            previous = stage
            moment += timedelta(seconds=rng.randrange(step // 3, step))
