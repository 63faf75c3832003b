"""Deterministic demo data: a believable small company, or a large one for benchmarks.

The standard demo (scale 1.0) is ~50 organizations, 300 contacts of every
stakeholder type and lifecycle stage, 150 deals, 1,500 activities over 18
months, 200 relationships, the lifecycle history and a few users. Rows are
generated lazily and streamed into the Store in chunks, so a million contacts
need bounded memory. Plugins add their share through ``crm_demo_data``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from crm_workspace.data import schema
from crm_workspace.plugins import call_strict

if TYPE_CHECKING:
    from crm_workspace.workspace import Workspace

FIRST = [
    "Ana",
    "José",
    "Zoë",
    "Łukasz",
    "Søren",
    "Amélie",
    "Mateo",
    "Chloé",
    "Ben",
    "Dev",
    "Eve",
    "Fatima",
    "Giulia",
    "Hiro",
    "Ines",
    "Jonas",
    "Kai",
    "Lena",
    "Marta",
    "Nils",
    "Olga",
    "Pavel",
    "Quentin",
    "Rosa",
    "Sven",
    "Tomás",
    "Uma",
    "Viktor",
    "Wen",
    "Xavier",
    "Yara",
    "Zofia",
    "Aarav",
    "Bianca",
    "Cyril",
    "Dana",
    "Emil",
    "Freya",
    "Gabriel",
    "Hana",
    "Ivan",
    "Jana",
    "Karim",
    "Lucía",
    "Mia",
    "Noah",
    "Oskar",
    "Priya",
    "Rafael",
    "Sara",
]
LAST = [
    "García",
    "Müller",
    "Novak",
    "Jensen",
    "Dubois",
    "Rossi",
    "Smith",
    "Kowalski",
    "Tanaka",
    "Silva",
    "Andersen",
    "Fischer",
    "Moreau",
    "Costa",
    "Nguyen",
    "O'Brien",
    "Schmidt",
    "Lopez",
    "Wagner",
    "Bauer",
    "Martin",
    "Bernard",
    "Petit",
    "Conti",
    "Marino",
    "Santos",
    "Ferreira",
    "Hansen",
    "Larsen",
    "Nielsen",
    "Weber",
    "Becker",
    "Hoffmann",
    "Schulz",
    "Koch",
    "Richter",
    "Klein",
    "Wolf",
    "Schröder",
    "Neumann",
]
ORG_HEADS = [
    "Acme",
    "Northwind",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Wonka",
    "Hooli",
    "Vandelay",
    "Cyberdyne",
    "Soylent",
    "Tyrell",
    "Oscorp",
    "Aperture",
    "Massive",
    "Dynamic",
    "Gringotts",
    "Monarch",
    "Pied",
    "Piper",
    "Contoso",
    "Fabrikam",
    "Litware",
    "Adatum",
    "Tailspin",
    "Proseware",
    "Lucerne",
    "Woodgrove",
    "Fourth",
    "Coffee",
    "Alpine",
    "Blue",
    "Yonder",
    "Trey",
    "Wide",
    "World",
    "Humongous",
    "Coho",
    "Margie's",
    "Lamna",
    "Kestrel",
    "Meridian",
    "Helix",
]
ORG_TAILS = ("Analytics", "Logistics", "Foods", "Systems", "Labs", "Health", "Energy", "Media", "Capital", "Retail")
INDUSTRIES = ("software", "logistics", "food", "manufacturing", "healthcare", "energy", "media", "finance", "retail")
CITIES = (
    ("Berlin", "DE"),
    ("Paris", "FR"),
    ("Madrid", "ES"),
    ("Lisbon", "PT"),
    ("Milan", "IT"),
    ("Copenhagen", "DK"),
    ("Warsaw", "PL"),
    ("London", "GB"),
    ("Amsterdam", "NL"),
    ("Vienna", "AT"),
    ("New York", "US"),
    ("Tokyo", "JP"),
)
TITLES = {
    "customer": ("Head of Operations", "Procurement Manager", "IT Director", "Finance Manager"),
    "prospect": ("Operations Lead", "Product Manager", "Data Analyst", "Office Manager"),
    "employee": ("Account Executive", "Support Engineer", "Marketing Specialist", "Customer Success Manager"),
    "executive": ("CEO", "CFO", "COO", "VP Sales"),
    "partner": ("Partner Manager", "Alliance Director"),
    "supplier": ("Account Manager", "Key Account Manager"),
    "media": ("Journalist", "Editor", "Podcast Host"),
    "investor": ("General Partner", "Angel Investor"),
    "advisor": ("Board Advisor", "Industry Advisor"),
    "other": ("Consultant",),
}
TYPE_WEIGHTS = {
    "customer": 30,
    "prospect": 30,
    "employee": 8,
    "executive": 8,
    "partner": 6,
    "supplier": 5,
    "media": 4,
    "investor": 3,
    "advisor": 3,
    "other": 3,
}
USERS = (
    ("ana", "Ana García", "admin"),
    ("ben", "Ben Okafor", "member"),
    ("chloe", "Chloé Martin", "member"),
    ("dev", "Dev Patel", "member"),
    ("eve", "Eve Lindqvist", "viewer"),
)
SUBJECTS = {
    "call": ("Discovery call", "Follow-up call", "Pricing call", "Renewal call", "Support call"),
    "email": ("Sent proposal", "Newsletter opened", "Answered question", "Sent case study", "Invoice reminder"),
    "meeting": ("Demo meeting", "Quarterly review", "Onsite workshop", "Kick-off meeting", "Negotiation meeting"),
    "note": ("Budget confirmed", "Champion identified", "Competitor in play", "Prefers email", "Expansion potential"),
    "task": ("Send contract", "Prepare demo", "Call back", "Update forecast", "Schedule QBR"),
}
CHANNEL_OF = {"call": "phone", "email": "email", "meeting": "in_person", "note": "web", "task": "phone"}
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


def _iso(moment: datetime) -> str:
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
            created = _iso(self.when())
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
                "created_at": _iso(created),
            }

    def lifecycle_events(self, current_stages: list[str | None]) -> Iterator[dict]:
        """Each contact's path to its current stage, with times in order."""
        rng = self.rng
        forward = schema.LIFECYCLE_STAGES[:-1]
        for contact_id in range(1, self.size.contacts + 1):
            current = current_stages[contact_id - 1]
            if current is None:
                continue
            if current == "churned":
                path = [*forward[: forward.index("customer") + 1], "churned"]
            else:
                path = list(forward[: forward.index(current) + 1])
            start = rng.randrange(0, min(2, len(path)))  # some enter as leads directly
            path = [s for j, s in enumerate(path) if j >= start and (j == len(path) - 1 or rng.random() > 0.15)]
            moment = self.contact_created[contact_id - 1]
            previous = None
            step = max(1, int((self.today - moment).total_seconds() / (len(path) + 1)))
            for stage in path:
                yield {
                    "contact_id": contact_id,
                    "from_stage": previous,
                    "to_stage": stage,
                    "at": _iso(moment),
                    "by": rng.choice(self.owners),
                }
                previous = stage
                moment += timedelta(seconds=rng.randrange(step // 3, step))

    def deals(self) -> Iterator[dict]:
        rng = self.rng
        stages = schema.DEAL_STAGES
        weights = (14, 12, 12, 8, 30, 24)
        for i in range(1, self.size.deals + 1):
            contact = rng.randrange(1, self.size.contacts + 1)
            org = self.contact_org[contact - 1]
            stage, probability, status = rng.choices(stages, weights)[0]
            created = self.when()
            close = created + timedelta(days=rng.randrange(20, 150))
            closed_at = _iso(min(close, self.today)) if status != "open" else None
            if status == "open" and rng.random() < 0.7:
                close = self.today + timedelta(days=rng.randrange(-20, 180))
            amount = round(rng.lognormvariate(9.5, 0.8), -2)
            yield {
                "id": i,
                "title": f"{rng.choice(('Platform', 'Analytics', 'Support', 'Expansion', 'Pilot', 'Renewal'))}"
                f" — {rng.choice(('Q1', 'Q2', 'Q3', 'Q4', 'EMEA', 'team', 'phase 2'))} #{i}",
                "organization_id": org,
                "contact_id": contact,
                "stage": stage,
                "amount": amount,
                "currency": "EUR",
                "probability": probability,
                "expected_close": close.date().isoformat(),
                "status": status,
                "lost_reason": rng.choice(schema.LOST_REASONS) if status == "lost" else None,
                "closed_at": closed_at,
                "source": rng.choice(("website", "referral", "event", "outbound", "partner")),
                "owner": rng.choice(self.owners),
                "created_at": _iso(created),
            }

    def activities(self) -> Iterator[dict]:
        rng = self.rng
        kinds = list(SUBJECTS)
        for i in range(1, self.size.activities + 1):
            kind = rng.choices(kinds, (30, 30, 15, 15, 10))[0]
            contact = rng.randrange(1, self.size.contacts + 1)
            occurred = self.when(self.contact_created[contact - 1])
            deal = rng.randrange(1, self.size.deals + 1) if rng.random() < 0.3 else None
            due = done = None
            if kind == "task":
                due_moment = occurred + timedelta(days=rng.randrange(1, 21))
                done = 1 if due_moment < self.today - timedelta(days=3) or rng.random() < 0.3 else 0
                due = _iso(due_moment)
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
                "channel": CHANNEL_OF[kind] if rng.random() > 0.2 else rng.choice(schema.CHANNELS),
                "contact_id": contact,
                "organization_id": self.contact_org[contact - 1],
                "deal_id": deal,
                "occurred_at": _iso(occurred),
                "due_at": due,
                "done": done or 0,
                "owner": rng.choice(self.owners),
                "created_at": _iso(occurred),
            }

    def relationships(self) -> Iterator[dict]:
        rng = self.rng
        n_contacts, n_orgs = self.size.contacts, self.size.organizations
        by_org: dict[int, list[int]] = {}
        for contact_id, org in enumerate(self.contact_org, start=1):
            by_org.setdefault(org, []).append(contact_id)
        seen: set[tuple] = set()
        made = 0
        attempts = 0
        while made < self.size.relationships and attempts < self.size.relationships * 20:
            attempts += 1
            kind = rng.choices(
                schema.RELATIONSHIP_KINDS,
                (30, 20, 12, 10, 5, 5, 4, 5, 4, 5),
            )[0]
            if kind in ("reports_to", "works_with"):
                org = rng.randrange(1, n_orgs + 1)
                people = by_org.get(org, [])
                if len(people) < 2:
                    continue
                a, b = rng.sample(people, 2)
                if kind == "reports_to":
                    a, b = max(a, b), min(a, b)  # report upwards to the earlier hire: no cycles
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


def generate(
    workspace: Workspace, size: DemoSize | None = None, *, seed: int = 42, today: datetime | None = None, progress=None
) -> DemoSize:
    """Fill an empty workspace with demo data (core tables, then every plugin's share)."""
    size = size or DemoSize.for_contacts()
    today = (today or datetime.now(UTC)).replace(hour=9, minute=0, second=0, microsecond=0)
    gen = _Generator(size, seed, today)
    store = workspace.store
    # Generated rows are not user changes (no audit, no events); large sizes also
    # skip validation, which dominates their cost and cannot fail on generated data.
    bulk = {"audit": False, "events": False, "validate": size.contacts <= 5_000}
    # The acting user becomes the first admin when the demo is the workspace's first data,
    # ending setup mode (crm_workspace/data/permissions.py): unknown users have no rights.
    users = USERS
    if workspace.user not in {u for u, _n, _r in USERS} and not store.query("SELECT 1 FROM users LIMIT 1"):
        users = (*USERS, (workspace.user, workspace.user, "admin"))
    steps = [
        (
            "users",
            lambda: (
                {
                    "username": u,
                    "display_name": n,
                    "role": r,
                    "email": f"{u}@crm.example",
                    "created_at": _iso(gen.start),
                }
                for u, n, r in users
            ),
        ),
        ("organizations", gen.organizations),
        ("contacts", gen.contacts),
        ("deals", gen.deals),
        ("activities", gen.activities),
        ("relationships", gen.relationships),
    ]
    with store.transaction(savepoints=False):  # all or nothing: see Store.transaction
        for table, rows in steps:
            if table == "users":
                existing = {r["username"] for r in store.query("SELECT username FROM users")}
                store.insert_many(table, (r for r in rows() if r["username"] not in existing), **bulk)
            else:
                store.insert_many(table, rows(), **bulk)
            if progress:
                progress(table)
        stages = [r[0] for r in store.conn.execute("SELECT lifecycle_stage FROM contacts ORDER BY id")]
        store.insert_many("lifecycle_events", gen.lifecycle_events(stages), **bulk)
        # The adoption metrics read the audit trail: give each logged activity its audit row.
        store.conn.execute(
            "INSERT INTO audit_log (at, user, table_name, row_id, action, changes)"
            " SELECT occurred_at, owner, 'activities', id, 'insert', '{\"demo\": true}' FROM activities"
            " WHERE occurred_at <= ?",
            [_iso(today)],
        )
        call_strict(workspace.pm, "crm_demo_data", workspace=workspace, seed=seed, scale=size.contacts / 300)
        if progress:
            progress("plugins")
    return size
