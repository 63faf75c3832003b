"""The relationship map's demo rows: colleagues, reporting lines, partners, investors."""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from crm_workspace.services.demo import bulk

from .schema import RELATIONSHIP_KINDS

if TYPE_CHECKING:
    from crm_workspace import Workspace

#: How often each kind of ``RELATIONSHIP_KINDS`` is drawn.
KIND_WEIGHTS = (30, 20, 12, 10, 5, 5, 4, 5, 4, 5)


def add_demo_relationships(workspace: Workspace, seed: int, size: Mapping[str, int]) -> None:
    rng = random.Random(seed + 2)
    store = workspace.store
    contact_org = [org for (org,) in store.conn.execute("SELECT organization_id FROM contacts ORDER BY id")]
    organizations = store.scalar("SELECT count(*) FROM organizations") or 0
    if len(contact_org) < 2 or organizations < 2:
        return
    count = size.get("relationships")
    if count is None:
        count = max(10, len(contact_org) * 2 // 3)
    store.insert_many("relationships", _relationships(rng, count, contact_org, organizations), **bulk(size))


def _relationships(rng: random.Random, count: int, contact_org: list[int], n_orgs: int) -> Iterator[dict]:
    """``count`` distinct links; reporting lines point to the earlier hire, so they have no cycles."""
    n_contacts = len(contact_org)
    by_org: dict[int, list[int]] = {}
    for contact_id, org in enumerate(contact_org, start=1):
        by_org.setdefault(org, []).append(contact_id)
    seen: set[tuple] = set()
    made = attempts = 0
    while made < count and attempts < count * 20:
        attempts += 1
        kind = rng.choices(RELATIONSHIP_KINDS, KIND_WEIGHTS)[0]
        if kind in ("reports_to", "works_with"):
            people = by_org.get(rng.randrange(1, n_orgs + 1), [])
            if len(people) < 2:
                continue
            a, b = rng.sample(people, 2)
            if kind == "reports_to":
                a, b = max(a, b), min(a, b)
            ends = ("contacts", a, "contacts", b)
        elif kind in ("partner_of", "supplier_of"):
            a, b = rng.sample(range(1, n_orgs + 1), 2)
            ends = ("organizations", a, "organizations", b)
        elif kind in ("investor_in", "advisor_to", "member_of"):
            ends = ("contacts", rng.randrange(1, n_contacts + 1), "organizations", rng.randrange(1, n_orgs + 1))
        else:
            a, b = rng.sample(range(1, n_contacts + 1), 2)
            ends = ("contacts", a, "contacts", b)
        key = (*ends, kind)
        if key in seen:
            continue
        seen.add(key)
        made += 1
        yield {
            "source_type": ends[0],
            "source_id": ends[1],
            "target_type": ends[2],
            "target_id": ends[3],
            "kind": kind,
            "strength": rng.choices((1, 2, 3, 4, 5), (10, 20, 35, 25, 10))[0],
        }
