"""The pipeline's demo rows: deals across every stage, and activities linked to them."""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from crm_workspace.services.demo import bulk, demo_today, iso

from .schema import DEAL_STAGES, DEFAULT_ROT_DAYS, LOST_REASONS

if TYPE_CHECKING:
    from crm_workspace import Workspace

#: How often each stage of ``DEAL_STAGES`` is drawn: many closed deals, fewer late ones.
STAGE_WEIGHTS = (14, 12, 12, 8, 30, 24)
#: Share of the activities that concern a deal.
LINKED_ACTIVITIES = 0.3
#: Share of open deals left idle past their stage's rotting limit, and of those past their close date:
#: a believable minority, so the board's badges point at the deals that need a look.
STALE_SHARE = 0.1
LATE_SHARE = 0.07


def add_demo_deals(workspace: Workspace, seed: int, size: Mapping[str, int], today: str | None) -> None:
    """Deals for random contacts (at their organization), then link some activities to them."""
    rng = random.Random(seed + 1)
    store = workspace.store
    contact_org = [org for (org,) in store.conn.execute("SELECT organization_id FROM contacts ORDER BY id")]
    if not contact_org:
        return
    owners = [r["username"] for r in store.query("SELECT username FROM users WHERE role != 'viewer' ORDER BY rowid")]
    count = size.get("deals") or max(10, len(contact_org) // 2)
    moment = demo_today(today)
    stale: list[tuple[int]] = []
    store.insert_many("deals", _deals(rng, count, contact_org, owners or ["ana"], moment, stale), **bulk(size))
    last = store.scalar("SELECT max(id) FROM activities") or 0
    links = (
        (rng.randrange(1, count + 1), activity_id)
        for activity_id in range(1, last + 1)
        if rng.random() < LINKED_ACTIVITIES
    )  # streamed: a million activities need no list
    store.conn.executemany("UPDATE activities SET deal_id = ? WHERE id = ?", links)
    # an idle deal is idle: nobody touched it since its last stage move
    store.conn.executemany(
        "UPDATE activities SET deal_id = NULL WHERE deal_id = ?1"
        " AND occurred_at > (SELECT stage_changed_at FROM deals WHERE id = ?1)",
        stale,
    )


def _deals(
    rng: random.Random, count: int, contact_org: list[int], owners: list[str], today: datetime, stale: list
) -> Iterator[dict]:
    """``count`` deals; the ids of open deals left idle past their rotting limit are added to ``stale``."""
    start = today - timedelta(days=30 * 18)
    span = int((today - start).total_seconds())
    for i in range(1, count + 1):
        contact = rng.randrange(1, len(contact_org) + 1)
        stage, probability, status = rng.choices(DEAL_STAGES, STAGE_WEIGHTS)[0]
        if status == "open":
            created, changed, close, idle = _open_deal_dates(rng, stage, today)
            closed_at = None
            if idle:
                stale.append((i,))
        else:
            created = start + timedelta(seconds=rng.randrange(span))
            close = created + timedelta(days=rng.randrange(20, 150))
            closed_at = iso(min(close, today))
            changed = min(close, today)
        yield {
            "id": i,
            "title": f"{rng.choice(('Platform', 'Analytics', 'Support', 'Expansion', 'Pilot', 'Renewal'))}"
            f" — {rng.choice(('Q1', 'Q2', 'Q3', 'Q4', 'EMEA', 'team', 'phase 2'))} #{i}",
            "organization_id": contact_org[contact - 1],
            "contact_id": contact,
            "stage": stage,
            "amount": round(rng.lognormvariate(9.5, 0.8), -2),
            "currency": "EUR",
            "probability": probability,
            "expected_close": close.date().isoformat(),
            "status": status,
            "lost_reason": rng.choice(LOST_REASONS) if status == "lost" else None,
            "closed_at": closed_at,
            "source": rng.choice(("website", "referral", "event", "outbound", "partner")),
            "owner": rng.choice(owners),
            "created_at": iso(created),
            "stage_changed_at": iso(changed),
        }


def _open_deal_dates(rng: random.Random, stage: str, today: datetime) -> tuple[datetime, datetime, datetime, bool]:
    """An open deal's creation, last stage move and expected close, as a live pipeline has them.

    Most open deals moved stage within their stage's rotting limit and close in the coming
    months; ``STALE_SHARE`` sit idle past the limit and ``LATE_SHARE`` are past their date.
    """
    rot = DEFAULT_ROT_DAYS.get(stage, 21)
    idle = rng.random() < STALE_SHARE
    in_stage = rng.randrange(rot + 2, rot + 60) if idle else rng.randrange(0, max(1, rot - 2))
    changed = today - timedelta(days=in_stage, seconds=rng.randrange(1, 86400))
    created = changed - timedelta(days=rng.randrange(0, 90), seconds=rng.randrange(86400))
    if rng.random() < LATE_SHARE:
        close = today - timedelta(days=rng.randrange(1, 20))
    else:
        close = today + timedelta(days=rng.randrange(3, 150))
    return created, changed, close, idle
