"""The import engine: plan (what would happen), execute (one transaction), undo.

``plan_import`` reads nothing but the table it is given and the database, and
writes nothing: a dry run is a plan. ``execute`` writes a plan in one
transaction through the Store, tagged ``import_batch=<id>`` so ``undo`` finds
every write in the audit trail.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crm_workspace_pipeline.schema import DEAL_STAGES, DEAL_STATUSES

from crm_workspace import CrmError, NotFound
from crm_workspace.data.schema import STAKEHOLDER_TYPES
from crm_workspace.data.store import utcnow

from . import normalize as nz
from .mapping import ENTITIES, FIELDS
from .reader import Table

DUPLICATE_MODES = ("update", "skip", "create")
#: Mapping target that keeps a column as a custom field (stored in excel_custom_fields, named by its header).
CUSTOM = "custom"
CHUNK = 20_000
#: Page-cache ceiling of the import's write transaction. The plan already holds every
#: record in memory; measured on the 100k and 300k benchmark imports, the store's default
#: 256 MB wrote no faster and raised the peak (by 113 MB at 100k rows).
IMPORT_CACHE_KIB = 96 * 1024

LIFECYCLE_SYNONYMS = {
    "mql": "marketing_qualified",
    "marketing_qualified_lead": "marketing_qualified",
    "sql": "sales_qualified",
    "sales_qualified_lead": "sales_qualified",
    "evangelist": "advocate",
    "former_customer": "churned",
    "lost": "churned",
    "subscribed": "subscriber",
    "new": "lead",
    "open": "lead",
}
STAKEHOLDER_SYNONYMS = {
    "client": "customer",
    "customers": "customer",
    "lead": "prospect",
    "prospects": "prospect",
    "vendor": "supplier",
    "press": "media",
    "journalist": "media",
    "staff": "employee",
    "exec": "executive",
    "board": "advisor",
    "reseller": "partner",
}
STAGE_SYNONYMS = {
    "closed_won": "won",
    "closedwon": "won",
    "closed_lost": "lost",
    "closedlost": "lost",
    "qualified": "qualification",
    "qualify": "qualification",
    "lead_in": "qualification",
    "discovery": "needs_analysis",
    "contact_made": "needs_analysis",
    "demo_scheduled": "needs_analysis",
    "proposal_sent": "proposal",
    "proposal_made": "proposal",
    "proposal_price_quote": "proposal",
    "negotiation_review": "negotiation",
    "negotiations_started": "negotiation",
    "contract_sent": "negotiation",
}
STATUS_SYNONYMS = {
    "closed_won": "won",
    "closed_lost": "lost",
    "active": "open",
    "in_progress": "open",
    "pending": "open",
}
STAGE_STATUS = {stage: status for stage, _p, status in DEAL_STAGES}
STAGE_PROBABILITY = {stage: float(p) for stage, p, _s in DEAL_STAGES}


@dataclass(slots=True)
class Row:
    """One data row on its way in."""

    index: int  # position in table.rows
    record: dict[str, Any]
    org_name: str | None = None
    contact_ref: str | None = None
    custom: dict[str, str] | None = None  # header → value of columns kept as custom fields


@dataclass
class Plan:
    """Exactly what an import would do; a dry run prints it, ``execute`` writes it."""

    entity: str
    headers: list[str]
    row_numbers: list[int]  # sheet row number of every data row (Table.row_numbers)
    mapping: dict[str, str | None]
    on_duplicate: str
    file_name: str = ""
    sha256: str = ""
    creates: list[Row] = field(default_factory=list)
    #: (row, id, changes, before values of the changed fields)
    updates: list[tuple[Row, int, dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    unchanged: list[tuple[int, int]] = field(default_factory=list)  # (row index, record id)
    skipped: list[tuple[int, str]] = field(default_factory=list)
    rejects: list[tuple[int, str]] = field(default_factory=list)
    #: the file's values of each rejected row, for the rejects workbook: the plan keeps no other
    #: cell of the sheet, so the table can be let go before the write
    rejected_values: dict[int, list[Any]] = field(default_factory=dict)
    new_orgs: dict[str, str] = field(default_factory=dict)  # key → name as first written
    #: problem cells for the preview: (row index, header) → message
    problems: dict[tuple[int, str], str] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, int]:
        return {
            "created": len(self.creates),
            "updated": len(self.updates),
            "unchanged": len(self.unchanged),
            "skipped": len(self.skipped),
            "rejected": len(self.rejects),
            "organizations_created": len(self.new_orgs) if self.entity != "organizations" else 0,
        }

    def summary(self) -> str:
        c = self.counts
        text = (
            f"{c['created']:,} created, {c['updated']:,} updated, {c['unchanged']:,} unchanged, "
            f"{c['skipped']:,} skipped, {c['rejected']:,} rejected"
        )
        if c["organizations_created"]:
            text += f" (+{c['organizations_created']:,} new organizations)"
        return text

    def row_number(self, index: int) -> int:
        return self.row_numbers[index]

    def rejects_frame(self):
        """The rejected rows as they were in the file, with their sheet row and the reason."""
        import pandas as pd

        headers = self.headers
        records = []
        for index, reason in self.rejects:
            values = self.rejected_values[index]
            records.append([self.row_number(index), *values[: len(headers)], reason])
        return pd.DataFrame(records, columns=["Row", *headers, "Reason"], dtype=object)

    def details(self, limit: int = 20) -> list[str]:
        """Human lines: updates with old → new, skips and rejects with their reasons."""
        lines = []
        for row, record_id, changes, before in self.updates[:limit]:
            diff = ", ".join(f"{k}: {before.get(k)!r} → {v!r}" for k, v in changes.items())
            lines.append(f"  row {self.row_number(row.index)}: update {self.entity} #{record_id}: {diff}")
        for index, reason in self.skipped[:limit]:
            lines.append(f"  row {self.row_number(index)}: skipped — {reason}")
        for index, reason in self.rejects[:limit]:
            lines.append(f"  row {self.row_number(index)}: rejected — {reason}")
        return lines


@dataclass
class ImportResult:
    batch_id: str | None
    plan: Plan
    rejects_path: Path | None = None
    dry_run: bool = False


# ------------------------------------------------------------------ planning
def _split_name(value: str) -> tuple[str | None, str | None]:
    if "," in value:
        last, _, first = value.partition(",")
        return first.strip() or None, last.strip() or None
    parts = value.split()
    if len(parts) == 1:
        return None, parts[0]
    return " ".join(parts[:-1]), parts[-1]


def _domain(value: Any) -> str | None:
    raw = nz.text(value)
    if raw is None:
        return None
    raw = raw.lower().split("://", 1)[-1].split("/", 1)[0].split("@")[-1]
    return raw.removeprefix("www.") or None


def _currency(value: Any) -> str | None:
    raw = nz.text(value)
    if raw is None:
        return None
    if raw in nz.CURRENCY_SYMBOLS:
        return nz.CURRENCY_SYMBOLS[raw]
    if len(raw) == 3 and raw.isalpha():
        return raw.upper()
    raise nz.BadValue(f"not a currency code: {raw!r}")


def converters(workspace, entity: str) -> dict[str, Callable[[Any], Any]]:
    """Field kind → normalizer for one import (choices bound to this workspace's vocabulary)."""
    stages = tuple(workspace.lifecycle_stages())
    region = str(workspace.setting("default_phone_region", "DE") or "DE").upper()  # as the contacts module
    deal_stages = tuple(s for s, _p, _st in DEAL_STAGES)
    return {
        "text": nz.text,
        "full_name": nz.text,
        "organization": nz.text,
        "contact": nz.text,
        "custom": nz.text,
        "email": nz.email,
        "phone": lambda v: nz.phone(v, region),
        "date": nz.date_value,
        "percent": nz.percent,
        "domain": _domain,
        "currency": _currency,
        "stakeholder_type": lambda v: nz.choice(v, STAKEHOLDER_TYPES, STAKEHOLDER_SYNONYMS),
        "lifecycle_stage": lambda v: nz.choice(v, stages, LIFECYCLE_SYNONYMS),
        "stage": lambda v: nz.choice(v, deal_stages, STAGE_SYNONYMS),
        "status": lambda v: nz.choice(v, DEAL_STATUSES, STATUS_SYNONYMS),
    }


class Planner:
    """Turns a table and a mapping into a Plan, reading the database but never writing."""

    def __init__(
        self, workspace, entity: str, table: Table, mapping: dict[str, str | None], on_duplicate: str = "update"
    ):
        if entity not in ENTITIES:
            raise CrmError(f"cannot import {entity!r}: choose one of {', '.join(ENTITIES)}")
        if on_duplicate not in DUPLICATE_MODES:
            raise CrmError(f"--on-duplicate must be one of {', '.join(DUPLICATE_MODES)}")
        self.ws = workspace
        self.store = workspace.store
        self.entity = entity
        self.table = table
        self.mapping = {h: f for h, f in mapping.items() if f}
        self.plan = Plan(entity, table.headers, table.row_numbers, dict(mapping), on_duplicate)
        columns = self.store.columns(entity)
        extra = {name: "text" for name in columns if name not in FIELDS[entity] and name not in _SYSTEM}
        self.kinds = {**extra, **FIELDS[entity], CUSTOM: "custom"}
        unknown = [f for f in self.mapping.values() if f not in self.kinds]
        if unknown:
            raise CrmError(f"{entity} have no field {unknown[0]!r}")
        if len({f for f in self.mapping.values() if f != CUSTOM}) < len(
            [f for f in self.mapping.values() if f != CUSTOM]
        ):
            seen: dict[str, str] = {}
            for header, name in self.mapping.items():
                if name == CUSTOM:
                    continue
                if name in seen:
                    raise CrmError(f"columns {seen[name]!r} and {header!r} are both mapped to {name!r}")
                seen[name] = header
        self.validators: dict[str, Any] = {}  # table → Store.validator(table)

    # -- rows → records
    def _records(self) -> list[Row]:
        entity, plan = self.entity, self.plan
        convert = converters(self.ws, entity)
        headers = self.table.headers
        columns = []
        for i, header in enumerate(headers):
            name = self.mapping.get(header)
            if name:
                kind = self.kinds[name]
                fn = nz.amount if kind == "amount" else convert[kind]
                if kind == "date" and _day_first(self.table.rows, i):
                    fn = _date_day_first
                columns.append((i, header, name, kind, fn))
        simple = [
            (i, h, n, fn)
            for i, h, n, k, fn in columns
            if k not in ("amount", "full_name", "organization", "contact", "custom")
        ]
        special = [
            (i, h, n, k, fn)
            for i, h, n, k, fn in columns
            if k in ("amount", "full_name", "organization", "contact", "custom")
        ]
        out: list[Row] = []
        problems = plan.problems
        BadValue = nz.BadValue
        # one memo per column: stages, owners, companies, titles repeat; each distinct value is normalized once
        memos = [(i, header, name, fn, {}) for i, header, name, fn in simple]
        miss = object()
        for index, values in enumerate(self.table.rows):
            record: dict[str, Any] = {}
            errors = None
            for i, header, name, fn, memo in memos:
                value = values[i]
                if value is None or value == "":
                    continue
                key = value if value.__class__ is str else (value.__class__, value)
                result = memo.get(key, miss)
                if result is miss:
                    try:
                        result = fn(value)
                    except BadValue as error:
                        result = error
                    if len(memo) < 250_000:
                        memo[key] = result
                if result.__class__ is BadValue:
                    errors = errors or []
                    errors.append(f"{header}: {result}")
                    problems[(index, header)] = str(result)
                elif result is not None:
                    record[name] = result
            row = Row(index, record)
            for i, header, name, kind, fn in special:
                value = values[i]
                if value is None or value == "":
                    continue
                try:
                    if kind == "amount":
                        number, currency = fn(value)
                        if number is not None:
                            record[name] = number
                        if currency and "currency" not in record:
                            record["currency"] = currency
                        continue
                    value = fn(value)
                except BadValue as error:
                    errors = errors or []
                    errors.append(f"{header}: {error}")
                    problems[(index, header)] = str(error)
                    continue
                if value is None:
                    continue
                if kind == "full_name":
                    first, last = _split_name(value)
                    if first and "first_name" not in record:
                        record["first_name"] = first
                    if last and "last_name" not in record:
                        record["last_name"] = last
                elif kind == "organization":
                    row.org_name = value
                elif kind == "contact":
                    row.contact_ref = value
                elif kind == "custom":
                    if row.custom is None:
                        row.custom = {}
                    row.custom[header] = value
            if errors:
                plan.rejects.append((index, "; ".join(errors)))
                continue
            if not record and row.org_name is None and row.contact_ref is None and not row.custom:
                plan.skipped.append((index, "no mapped values"))
                continue
            out.append(row)
        return out

    def _deal_defaults(self, record: dict) -> None:
        stage = record.get("stage")
        if stage:
            record.setdefault("status", STAGE_STATUS.get(stage, "open"))
            record.setdefault("probability", STAGE_PROBABILITY.get(stage))

    def _validate(self, table: str, record: dict, before: dict | None) -> str | None:
        if table not in self.validators:
            self.validators[table] = self.store.validator(table)
        messages = self.validators[table](record, before)
        if messages:
            return "; ".join(f"{k}: {v}" for k, v in messages.items())
        return None

    # -- lookups
    def _org_ids(self) -> dict[str, int]:
        ids: dict[str, int] = {}
        for row_id, name in self.store.conn.execute("SELECT id, name FROM organizations ORDER BY id"):
            if name:
                ids.setdefault(nz.org_key(name), row_id)
        return ids

    def _existing_rows(self, ids: list[int]) -> dict[int, dict]:
        rows: dict[int, dict] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.store.query(f"SELECT * FROM [{self.entity}] WHERE id IN ({marks})", chunk):
                rows[row["id"]] = row
        return rows

    # -- the plan
    def build(self) -> Plan:
        """Plan against one consistent view of the database (settings read once, not per row)."""
        with self.store.snapshot():
            return self._build()

    def _build(self) -> Plan:
        plan = self.plan
        entity = self.entity
        rows = self._records()
        org_ids = self._org_ids() if entity != "organizations" or rows else {}
        # keys and existing matches
        existing: dict[Any, int] = {}
        if entity == "contacts":
            emails = {r.record["email"] for r in rows if r.record.get("email")}
            if emails:
                for row_id, mail in self.store.conn.execute(
                    "SELECT id, lower(email) FROM contacts WHERE email IS NOT NULL AND email != ''"
                ):
                    if mail in emails:
                        existing[mail] = row_id
            if any(not r.record.get("email") for r in rows):  # no email: the same name at the same organization
                for row_id, first, last, org_id in self.store.conn.execute(
                    "SELECT id, first_name, last_name, organization_id FROM contacts"
                    " WHERE email IS NULL OR email = '' ORDER BY id"
                ):
                    existing.setdefault(_name_key(first, last, org_id), row_id)
        elif entity == "organizations":
            existing = org_ids
        else:
            for row_id, title, org_id in self.store.conn.execute(
                "SELECT id, title, organization_id FROM deals ORDER BY id"
            ):
                existing.setdefault((nz.org_key(title or ""), org_id), row_id)
        contact_lookup = self._contact_lookup(rows) if entity == "deals" else {}
        first_seen: dict[Any, Row] = {}
        matched: list[tuple[Row, int]] = []
        mode = plan.on_duplicate
        for row in rows:
            record = row.record
            if row.org_name is not None:
                okey = nz.org_key(row.org_name)
                if okey in org_ids:
                    record["organization_id"] = org_ids[okey]
                elif okey:
                    plan.new_orgs.setdefault(okey, row.org_name)
            if entity == "deals":
                if row.contact_ref is not None:
                    found = contact_lookup.get(_contact_key(row.contact_ref))
                    if found is None:
                        plan.rejects.append((row.index, f"no contact matches {row.contact_ref!r} (by email or name)"))
                        continue
                    record["contact_id"] = found
                self._deal_defaults(record)
            key = self._key(row, org_ids)
            if mode == "create" and isinstance(key, tuple) and key[0] == "name":
                key = None  # two people may share a name: only an email makes a contact a duplicate
            if key is not None and key in first_seen:
                earlier = first_seen[key]
                where = f"row {plan.row_number(earlier.index)}"
                if mode == "update":
                    for name, value in record.items():
                        earlier.record[name] = value
                    if row.org_name is not None:
                        earlier.org_name = row.org_name
                    if row.custom:
                        earlier.custom = {**(earlier.custom or {}), **row.custom}
                    plan.skipped.append((row.index, f"duplicate of {where} in this file (merged into it)"))
                elif mode == "skip" or entity == "contacts":
                    plan.skipped.append((row.index, f"duplicate of {where} in this file"))
                else:
                    key = None
                if key is not None:
                    continue
            if key is not None:
                first_seen[key] = row
            if key is not None and key in existing:
                if mode == "skip":
                    plan.skipped.append((row.index, f"already exists as {entity} #{existing[key]}"))
                    continue
                if mode == "update":
                    matched.append((row, existing[key]))
                    continue
                if entity == "contacts":  # one email, one contact: never a second
                    plan.rejects.append(
                        (
                            row.index,
                            f"email already used by contact #{existing[key]} (use --on-duplicate update or skip)",
                        )
                    )
                    continue
            plan.creates.append(row)
        self._plan_updates(matched)
        self._validate_creates()
        plan.creates.sort(key=lambda r: r.index)
        plan.rejects.sort()
        plan.skipped.sort()
        plan.rejected_values = {index: self.table.rows[index] for index, _reason in plan.rejects}
        return plan

    def _key(self, row: Row, org_ids: dict[str, int]) -> Any:
        record = row.record
        if self.entity == "contacts":
            if record.get("email"):
                return record["email"]
            if not (record.get("first_name") or record.get("last_name")):
                return None
            org = record.get("organization_id")
            if org is None and row.org_name is not None:
                org = "new:" + nz.org_key(row.org_name)
            return _name_key(record.get("first_name"), record.get("last_name"), org)
        if self.entity == "organizations":
            return nz.org_key(record["name"]) if record.get("name") else None
        title = record.get("title")
        if not title:
            return None
        org = record.get("organization_id")
        if org is None and row.org_name is not None:
            org = "new:" + nz.org_key(row.org_name)
        return (nz.org_key(title), org)

    def _contact_lookup(self, rows: list[Row]) -> dict[str, int]:
        refs = {_contact_key(r.contact_ref) for r in rows if r.contact_ref}
        found: dict[str, int] = {}
        if not refs:
            return found
        for row_id, mail, first, last in self.store.conn.execute(
            "SELECT id, lower(email), first_name, last_name FROM contacts ORDER BY id"
        ):
            if mail and mail in refs:
                found.setdefault(mail, row_id)
            name = _contact_key(f"{first or ''} {last or ''}")
            if name in refs:
                found.setdefault(name, row_id)
        return found

    def _plan_updates(self, matched: list[tuple[Row, int]]) -> None:
        plan = self.plan
        current = self._existing_rows([row_id for _row, row_id in matched])
        for row, row_id in matched:
            before = current.get(row_id)
            if before is None:
                plan.creates.append(row)
                continue
            changes = {k: v for k, v in row.record.items() if before.get(k) != v and k != "created_at"}
            if self.entity == "organizations":
                changes.pop("name", None)  # same organization by name: keep its spelling
            if not changes:
                if row.custom or (row.org_name is not None and nz.org_key(row.org_name) in plan.new_orgs):
                    pass  # it will get an id once the organization exists
                else:
                    plan.unchanged.append((row.index, row_id))
                    continue
            check = dict(changes)
            error = self._validate(self.entity, check, before) if check else None
            if error:
                plan.rejects.append((row.index, error))
                continue
            changes = {k: v for k, v in check.items() if before.get(k) != v}
            plan.updates.append((row, row_id, changes, {k: before.get(k) for k in changes}))

    def _validate_creates(self) -> None:
        plan = self.plan
        valid = []
        entity = self.entity
        for row in plan.creates:
            error = self._validate(entity, row.record, None)
            if error:
                plan.rejects.append((row.index, error))
            else:
                valid.append(row)
        plan.creates = valid
        # organizations only referenced by rejected rows are not created
        if plan.new_orgs and entity != "organizations":
            wanted = {nz.org_key(r.org_name) for r in valid if r.org_name}
            wanted |= {nz.org_key(r.org_name) for r, _i, _c, _b in plan.updates if r.org_name}
            plan.new_orgs = {k: v for k, v in plan.new_orgs.items() if k in wanted}


def _date_day_first(value: Any) -> str | None:
    return nz.date_value(value, day_first=True)


def _day_first(rows: list[list[Any]], column: int) -> bool:
    """Whether a column's text dates are written day first (some value like 25/03/2024)."""
    for values in rows:
        value = values[column]
        if isinstance(value, str):
            match = nz._NUMERIC_DATE.match(value.strip())
            if match and len(match.group(1)) <= 2 and int(match.group(1)) > 12:
                return True
    return False


def _name_key(first: Any, last: Any, org: Any) -> tuple:
    return ("name", nz.org_key(str(first or "")), nz.org_key(str(last or "")), org)


def _contact_key(value: str) -> str:
    value = value.strip().lower()
    return value if "@" in value else " ".join(value.split())


def plan_import(
    workspace,
    table: Table,
    entity: str,
    mapping: dict[str, str | None],
    on_duplicate: str = "update",
    *,
    file_name: str = "",
    sha256: str = "",
) -> Plan:
    plan = Planner(workspace, entity, table, mapping, on_duplicate).build()
    plan.file_name, plan.sha256 = file_name, sha256
    return plan


# ----------------------------------------------------------------- executing
def new_batch_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


def execute(workspace, plan: Plan, *, progress: Callable[[int, int], None] | None = None) -> str:
    """Write the plan in one transaction; returns the batch id. Any failure writes nothing."""
    store = workspace.store
    batch_id = new_batch_id()
    total = len(plan.creates) + len(plan.updates) + len(plan.new_orgs)
    done = 0
    with store.transaction(savepoints=False, cache_kib=IMPORT_CACHE_KIB), store.context(import_batch=batch_id):
        store.insert_many(
            "import_batches",
            [
                {
                    "id": batch_id,
                    "at": utcnow(),
                    "user": workspace.user,
                    "file_name": plan.file_name,
                    "sha256": plan.sha256,
                    "entity": plan.entity,
                    "created": 0,
                    "updated": 0,
                    "skipped": 0,
                    "rejected": 0,
                    "status": "running",
                }
            ],
            events=False,
        )
        org_ids: dict[str, int] = {}
        if plan.new_orgs and plan.entity != "organizations":
            keys = list(plan.new_orgs)
            ids = store.insert_many("organizations", [{"name": plan.new_orgs[k]} for k in keys])
            org_ids = dict(zip(keys, ids, strict=True))
            done += len(keys)
        if progress:
            progress(done, total)
        # updates first: they touch scattered existing pages, best done before the inserts fill the page cache
        updates = []
        for row, row_id, changes, _before in plan.updates:
            if row.org_name is not None and nz.org_key(row.org_name) in org_ids:
                changes["organization_id"] = org_ids[nz.org_key(row.org_name)]
            updates.append((row_id, changes, None))
        for start in range(0, len(updates), CHUNK):
            chunk = updates[start : start + CHUNK]
            store.update_many(plan.entity, chunk)
            done += len(chunk)
            if progress:
                progress(done, total)
        defaults = _column_defaults(store, plan.entity)
        entity_ids: list[Any] = []
        for start in range(0, len(plan.creates), CHUNK):
            # A bulk insert names every column: say the defaults, in copies made a chunk at a
            # time (adding keys to 300k planned records would grow each of them for good).
            chunk = []
            for row in plan.creates[start : start + CHUNK]:
                record = {**defaults, **row.record}
                if row.org_name is not None and "organization_id" not in row.record:
                    record["organization_id"] = org_ids.get(nz.org_key(row.org_name))
                chunk.append(record)
            # every record was validated by the same hooks while planning (rejects need per-row answers)
            entity_ids.extend(store.insert_many(plan.entity, chunk, validate=False))
            done += len(chunk)
            if progress:
                progress(done, total)
        _write_custom(store, plan, entity_ids)
        counts = plan.counts
        store.update(
            "import_batches",
            batch_id,
            {
                "created": counts["created"],
                "updated": counts["updated"],
                "skipped": counts["skipped"] + counts["unchanged"],
                "rejected": counts["rejected"],
                "status": "done",
            },
        )
    return batch_id


def _write_custom(store, plan: Plan, created_ids: list[Any]) -> None:
    """Columns kept as custom fields: one excel_custom_fields row per record and header."""
    targets = [(row, row_id) for row, row_id in zip(plan.creates, created_ids, strict=True) if row.custom]
    targets += [(row, row_id) for row, row_id, _c, _b in plan.updates if row.custom]
    if not targets:
        return
    existing = {}
    updated_ids = [row_id for row, row_id, _c, _b in plan.updates if row.custom]
    for start in range(0, len(updated_ids), 500):
        chunk = updated_ids[start : start + 500]
        for found in store.query(
            "SELECT id, row_id, name, value FROM excel_custom_fields WHERE table_name = ? AND row_id IN ({})".format(
                ",".join("?" * len(chunk))
            ),
            [plan.entity, *chunk],
        ):
            existing[(found["row_id"], found["name"])] = found
    inserts, updates = [], []
    for row, row_id in targets:
        for name, value in row.custom.items():
            old = existing.get((row_id, name))
            if old is None:
                inserts.append({"table_name": plan.entity, "row_id": row_id, "name": name, "value": value})
            elif old["value"] != value:
                updates.append((old["id"], {"value": value}, None))
    if inserts:
        store.insert_many("excel_custom_fields", inserts)
    if updates:
        store.update_many("excel_custom_fields", updates)


def custom_fields(workspace, table: str, row_id: int) -> dict[str, str]:
    """The custom fields an import kept for one record: ``{header: value}``."""
    rows = workspace.store.query(
        "SELECT name, value FROM excel_custom_fields WHERE table_name = ? AND row_id = ? ORDER BY name", [table, row_id]
    )
    return {r["name"]: r["value"] for r in rows}


def _column_defaults(store, table: str) -> dict[str, Any]:
    defaults = {}
    for _cid, name, _type, _notnull, default, _pk in store.conn.execute(f"PRAGMA table_info([{table}])"):
        if default is None or name in ("version", "created_at", "updated_at", "updated_by"):
            continue
        try:
            defaults[name] = json.loads(default.replace("'", '"')) if default[:1] in "'0123456789-" else None
        except ValueError:
            continue
        if defaults[name] is None:
            del defaults[name]
    return defaults


def file_sha256(source: str | Path | bytes) -> str:
    digest = hashlib.sha256()
    if isinstance(source, (bytes, bytearray)):
        digest.update(source)
    else:
        with Path(source).open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------- undo
def undo(workspace, batch_id: str) -> dict[str, int]:
    """Delete what the batch created, restore what it updated; refuses if edited since or undone."""
    store = workspace.store
    rows = store.query("SELECT * FROM import_batches WHERE id = ?", [batch_id])
    if not rows:
        raise NotFound(f"no import batch {batch_id!r} (see `crm imports list`)")
    batch = rows[0]
    if batch["status"] == "undone":
        raise CrmError(f"import batch {batch_id} was already undone; nothing to do")
    pattern = f'%"import_batch":%{json.dumps(batch_id)}%'  # a cheap pre-filter; the JSON check below is exact
    writes = store.query(
        "SELECT id, table_name, row_id, action, changes FROM audit_log WHERE changes LIKE ? ORDER BY id", [pattern]
    )
    writes = [w for w in writes if json.loads(w["changes"]).get("context", {}).get("import_batch") == batch_id]
    writes = [w for w in writes if w["table_name"] != "import_batches"]
    if writes:
        first_id = writes[0]["id"]
        mine = {w["id"] for w in writes}
        touched = {(w["table_name"], w["row_id"]) for w in writes}
        later = store.query(
            "SELECT id, table_name, row_id, user, at FROM audit_log WHERE id > ? AND table_name IN ({}) ORDER BY id".format(
                ",".join("?" * len({t for t, _r in touched}))
            ),
            [first_id, *sorted({t for t, _r in touched})],
        )
        edited = [w for w in later if w["id"] not in mine and (w["table_name"], w["row_id"]) in touched]
        if edited:  # a later batch that was itself undone (and its undo) left no change behind
            undone = {r["id"] for r in store.query("SELECT id FROM import_batches WHERE status = 'undone'")}
            for w in edited:
                w["changes"] = store.scalar("SELECT changes FROM audit_log WHERE id = ?", [w["id"]])
            edited = [w for w in edited if not _from_undone_batch(w["changes"], undone)]
        if edited:
            sample = ", ".join(f"{w['table_name']} #{w['row_id']} (by {w['user']} at {w['at']})" for w in edited[:3])
            more = f" and {len(edited) - 3} more" if len(edited) > 3 else ""
            raise CrmError(
                f"cannot undo import batch {batch_id}: {len(edited)} of its records were changed since "
                f"({sample}{more}); nothing was undone"
            )
    updates: dict[str, list] = {}
    inserts: list[tuple[str, Any]] = []
    for write in reversed(writes):
        row_id = int(write["row_id"]) if write["row_id"].isdigit() else write["row_id"]
        if write["action"] == "update":
            before = json.loads(write["changes"]).get("before", {})
            updates.setdefault(write["table_name"], []).append((row_id, before, None))
        elif write["action"] == "insert":
            inserts.append((write["table_name"], row_id))
    with store.transaction(), store.context(undo_of=batch_id):
        for table, changes in updates.items():
            store.update_many(table, changes)
        start = 0
        while start < len(inserts):  # newest first, one delete_many per run of one table
            table = inserts[start][0]
            end = start
            while end < len(inserts) and inserts[end][0] == table:
                end += 1
            store.delete_many(table, [(row_id, None) for _t, row_id in inserts[start:end]])
            start = end
        store.update("import_batches", batch_id, {"status": "undone"})
    deleted = len(inserts)
    restored = sum(len(v) for v in updates.values())
    return {"deleted": deleted, "restored": restored}


def _from_undone_batch(changes: str, undone: set[str]) -> bool:
    context = json.loads(changes).get("context") or {}
    return context.get("import_batch") in undone or context.get("undo_of") in undone


def list_batches(workspace, limit: int = 50) -> list[dict[str, Any]]:
    return workspace.store.query("SELECT * FROM import_batches ORDER BY at DESC, id DESC LIMIT ?", [limit])


# ---------------------------------------------------------- one import, whole
@dataclass
class Prepared:
    """A file read and mapped, ready to plan: what the CLI and the dashboard both build."""

    book: Any
    table: Table
    entity: str
    mapping: dict[str, str | None]
    file_name: str
    sha256: str


def guess_entity(headers: list[str], plugin_aliases: dict | None = None) -> str:
    from .mapping import guess

    scores = {}
    for entity in ENTITIES:
        found = {f for f in guess(headers, entity, plugin_aliases).values() if f}
        weight = {
            "contacts": ("email", "first_name", "last_name", "full_name"),
            "deals": ("amount", "stage", "expected_close", "probability"),
            "organizations": ("domain", "industry", "website"),
        }[entity]
        scores[entity] = len(found) + 3 * len(found & set(weight))
    return max(ENTITIES, key=lambda e: (scores[e], e == "contacts"))


def prepare(
    workspace,
    source: str | Path | bytes,
    *,
    name: str | None = None,
    entity: str | None = None,
    sheet: str | None = None,
    header_row: int | None = None,
    overrides: dict[str, str | None] | None = None,
    map_options: tuple[str, ...] | list[str] = (),
    recipe: dict | None = None,
) -> Prepared:
    from .mapping import guess, parse_map_options
    from .reader import open_book

    book = open_book(source, name)
    if recipe:
        entity = entity or recipe.get("entity")
        sheet = sheet or recipe.get("sheet") or None
        if sheet and sheet not in book.sheet_names:
            sheet = None
    table = book.table(sheet, header_row)
    if not table.headers:
        raise CrmError(f"{book.name}: sheet '{table.sheet}' is empty")
    aliases = workspace.field_aliases()
    entity = entity or guess_entity(table.headers, aliases)
    if entity not in ENTITIES:
        raise CrmError(f"cannot import {entity!r}: choose one of {', '.join(ENTITIES)}")
    extra = [c for c in workspace.store.columns(entity) if c not in FIELDS[entity] and c not in _SYSTEM]
    mapping = guess(table.headers, entity, aliases, extra)
    if recipe:
        for header, target in (recipe.get("mapping") or {}).items():
            if header in mapping:
                mapping[header] = target
    mapping.update(overrides or {})
    mapping.update(parse_map_options(map_options, table.headers, entity, extra))
    if not any(mapping.values()):
        raise CrmError(
            f"{book.name}: no column matches a {entity} field (columns: {', '.join(table.headers[:12])}); use --map HEADER=field"
        )
    digest = file_sha256(source) if not isinstance(source, (bytes, bytearray)) else file_sha256(bytes(source))
    return Prepared(book, table, entity, mapping, book.name, digest)


_SYSTEM = {"id", "organization_id", "contact_id", "updated_at", "updated_by", "version"}


def importable_fields(workspace, entity: str) -> list[str]:
    extra = [c for c in workspace.store.columns(entity) if c not in FIELDS[entity] and c not in _SYSTEM]
    return [*FIELDS[entity], *extra, CUSTOM]


def write_rejects(plan: Plan, path: str | Path) -> Path:
    from crm_workspace.services.export import write_xlsx

    return write_xlsx(plan.rejects_frame(), path, sheet_name="Rejected rows")


def rejects_bytes(plan: Plan) -> bytes:
    from crm_workspace.services.export import to_xlsx_bytes

    return to_xlsx_bytes(plan.rejects_frame(), sheet_name="Rejected rows")
