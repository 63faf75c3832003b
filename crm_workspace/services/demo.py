"""Deterministic demo data: a believable small company, or a large one for benchmarks.

The standard demo (scale 1.0) is ~50 organizations, 300 contacts of every
stakeholder type and lifecycle stage, 1,500 activities over 18 months and a few
users: the core tables, written here. Each module adds its share through
``crm_demo_data`` (the pipeline 150 deals, the relationship map 200
relationships, the lifecycle tracker every contact's history), with the helpers
below. Rows are generated lazily and streamed into the Store in chunks, so a
million contacts need bounded memory.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from crm_workspace.data import schema
from crm_workspace.plugins import call_strict
from crm_workspace.services.demo_words import (
    CITIES,
    FIRST,
    INDUSTRIES,
    LAST,
    ORG_HEADS,
    ORG_TAILS,
    SUBJECTS,
    TITLES,
    TYPE_WEIGHTS,
)

if TYPE_CHECKING:
    from crm_workspace.workspace import Workspace

USERS = (
    ("ana", "Ana García", "admin"),
    ("ben", "Ben Okafor", "member"),
    ("chloe", "Chloé Martin", "member"),
    ("dev", "Dev Patel", "member"),
    ("eve", "Eve Lindqvist", "viewer"),
)
MONTHS = 18


@dataclass(frozen=True)
class DemoSize:
    organizations: int
    contacts: int
    deals: int
    activities: int
    relationships: int

    @classmethod
    def for_contacts(cls, contacts: int = 300, **overrides: int | None) -> DemoSize:
        """Sizes in the proportions of the standard demo; explicit counts win."""
        activities = 5 * contacts if contacts <= 10_000 else contacts
        size = {
            "organizations": max(5, contacts // 6),
            "contacts": contacts,
            "deals": max(10, contacts // 2),
            "activities": activities,
            "relationships": max(10, contacts * 2 // 3),
        }
        size.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**size)


def iso(moment: datetime) -> str:
    """A time as the demo writes it: ISO-8601 UTC to the second."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class _Generator:
    def __init__(self, size: DemoSize, seed: int, today: datetime):
        self.size = size
        self.rng = random.Random(seed)
        self.today = today
        self.start = today - timedelta(days=30 * MONTHS)
        self.owners = [u for u, _name, role in USERS if role != "viewer"]
        self.types = list(TYPE_WEIGHTS)
        self.type_weights = list(TYPE_WEIGHTS.values())
        self.org_domains: list[str] = []
        self.org_created: list[str] = []
        self.contact_org: list[int] = []
        self.contact_created: list[datetime] = []

    def when(self, earliest: datetime | None = None) -> datetime:
        earliest = earliest or self.start
        span = max(1, int((self.today - earliest).total_seconds()))
        return earliest + timedelta(seconds=self.rng.randrange(span))

    def organizations(self) -> Iterator[dict]:
        rng = self.rng
        for i in range(1, self.size.organizations + 1):
            head = ORG_HEADS[(i - 1) % len(ORG_HEADS)]
            tail = ORG_TAILS[((i - 1) // len(ORG_HEADS)) % len(ORG_TAILS)]
            serial = (i - 1) // (len(ORG_HEADS) * len(ORG_TAILS))
            name = f"{head} {tail}" + (f" {serial + 1}" if serial else "")
            domain = name.lower().replace("'", "").replace(" ", "") + ".example"
            city, country = rng.choice(CITIES)
            created = iso(self.when())
            self.org_domains.append(domain)
            self.org_created.append(created)
            yield {
                "id": i,
                "name": name,
                "domain": domain,
                "industry": rng.choice(INDUSTRIES),
                "city": city,
                "country": country,
                "phone": f"+4930{rng.randrange(1000000, 9999999)}",
                "website": f"https://{domain}",
                "owner": rng.choice(self.owners),
                "created_at": created,
            }

    def contacts(self) -> Iterator[dict]:
        rng = self.rng
        stages = schema.LIFECYCLE_STAGES
        unique = self.size.contacts > 5_000
        seen: set[str] = set()
        for i in range(1, self.size.contacts + 1):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            kind = rng.choices(self.types, self.type_weights)[0]
            org = rng.randrange(1, self.size.organizations + 1)
            local = f"{_ascii(first)}.{_ascii(last)}"
            if unique:
                local += f".{i}"
            else:
                base, n = local, 1
                while local in seen:
                    n += 1
                    local = f"{base}{n}"
                seen.add(local)
            stage = _stage_for(kind, rng, stages)
            created = self.when()
            self.contact_org.append(org)
            self.contact_created.append(created)
            yield {
                "id": i,
                "first_name": first,
                "last_name": last,
                "email": f"{local}@{self.org_domains[org - 1]}" if rng.random() > 0.04 else None,
                "phone": f"+49151{rng.randrange(10000000, 99999999)}" if rng.random() > 0.15 else None,
                "title": rng.choice(TITLES[kind]) if rng.random() > 0.1 else None,
                "organization_id": org,
                "stakeholder_type": kind,
                "lifecycle_stage": stage,
                "source": rng.choice(("website", "referral", "event", "outbound", "partner", "import")),
                "owner": rng.choice(self.owners),
                "created_at": iso(created),
            }

    def activities(self) -> Iterator[dict]:
        rng = self.rng
        kinds = list(SUBJECTS)
        for i in range(1, self.size.activities + 1):
            kind = rng.choices(kinds, (30, 30, 15, 15, 10))[0]
            contact = rng.randrange(1, self.size.contacts + 1)
            occurred = self.when(self.contact_created[contact - 1])
            due = done = None
            if kind == "task":
                due_moment = occurred + timedelta(days=rng.randrange(1, 21))
                done = 1 if due_moment < self.today - timedelta(days=3) or rng.random() < 0.3 else 0
                due = iso(due_moment)
            yield {
                "id": i,
                "kind": kind,
                "subject": rng.choice(SUBJECTS[kind]),
                "body": rng.choice(
                    (
                        "",
                        "Went well.",
                        "Asked for a discount.",
                        "Needs approval from finance.",
                        "Interested in the analytics add-on.",
                        "Will decide next month.",
                    )
                ),
                "channel": schema.CHANNEL_OF[kind] if rng.random() > 0.2 else rng.choice(schema.CHANNELS),
                "contact_id": contact,
                "organization_id": self.contact_org[contact - 1],
                "deal_id": None,  # the pipeline links some activities to its deals
                "occurred_at": iso(occurred),
                "due_at": due,
                "done": done or 0,
                "owner": rng.choice(self.owners),
                "created_at": iso(occurred),
            }


def _stage_for(kind: str, rng: random.Random, stages: tuple[str, ...]) -> str | None:
    if kind in ("customer",):
        return rng.choices(("customer", "advocate", "churned"), (70, 18, 12))[0]
    if kind == "prospect":
        return rng.choice(stages[:5])
    if kind in ("employee", "executive", "supplier", "investor", "advisor"):
        return None if rng.random() < 0.8 else rng.choice(stages)
    return rng.choice(stages)


def _ascii(text: str) -> str:
    import unicodedata

    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())


def bulk(size: Mapping[str, int]) -> dict[str, bool]:
    """``insert_many`` options for generated rows, for the core and plugins alike.

    Generated rows are not user changes (no audit, no events); large sizes also
    skip validation, which dominates their cost and cannot fail on generated data.
    """
    return {"audit": False, "events": False, "validate": size["contacts"] <= 5_000}


def demo_today(today: str | datetime | None = None) -> datetime:
    """The moment the demo treats as now: ``today`` at 09:00 UTC, else the last 09:00 UTC that has passed.

    Never a moment still to come: before 09:00 a demo dated 09:00 today had lifecycle events
    in the future, which validation refuses (``crm init --demo`` failed between 00:00 and 09:00).
    """
    if isinstance(today, str):
        today = datetime.fromisoformat(today)
    if today is not None:
        return today.replace(hour=9, minute=0, second=0, microsecond=0)
    now = datetime.now(UTC)
    nine = now.replace(hour=9, minute=0, second=0, microsecond=0)
    return nine if nine <= now else nine - timedelta(days=1)


def generate(
    workspace: Workspace, size: DemoSize | None = None, *, seed: int = 42, today: datetime | None = None, progress=None
) -> DemoSize:
    """Fill an empty workspace with demo data: the core tables, then every plugin's share.

    Plugins receive the sizes asked for (``size``: rows per table, e.g. ``deals``)
    and the demo's ``today`` through ``crm_demo_data``.
    """
    size = size or DemoSize.for_contacts()
    today = demo_today(today)
    gen = _Generator(size, seed, today)
    store = workspace.store
    sizes = asdict(size)
    options = bulk(sizes)
    # The acting user becomes the first admin when the demo is the workspace's first data,
    # ending setup mode (crm_workspace/data/permissions.py): unknown users have no rights.
    people = USERS
    if workspace.user not in {u for u, _n, _r in USERS} and not store.query("SELECT 1 FROM users LIMIT 1"):
        people = (*USERS, (workspace.user, workspace.user, "admin"))
    users = (
        {"username": u, "display_name": n, "role": r, "email": f"{u}@crm.example", "created_at": iso(gen.start)}
        for u, n, r in people
    )
    steps = [("organizations", gen.organizations), ("contacts", gen.contacts), ("activities", gen.activities)]
    with store.transaction(savepoints=False):  # all or nothing: see Store.transaction
        existing = {r["username"] for r in store.query("SELECT username FROM users")}
        store.insert_many("users", (r for r in users if r["username"] not in existing), **options)
        if progress:
            progress("users")
        for table, rows in steps:
            store.insert_many(table, rows(), **options)
            if progress:
                progress(table)
        # The adoption metrics read the audit trail: give each logged activity its audit row.
        store.conn.execute(
            "INSERT INTO audit_log (at, user, table_name, row_id, action, changes)"
            " SELECT occurred_at, owner, 'activities', id, 'insert', '{\"demo\": true}' FROM activities"
            " WHERE occurred_at <= ?",
            [iso(today)],
        )
        call_strict(
            workspace.pm,
            "crm_demo_data",
            workspace=workspace,
            seed=seed,
            scale=size.contacts / 300,
            size=sizes,
            today=iso(today),
        )
        if progress:
            progress("plugins")
    return size
