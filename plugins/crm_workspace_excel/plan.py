"""Planning an import: what would be created, updated, skipped or rejected, and why.

``plan_import`` reads the table it is given and the database, and writes nothing:
a dry run is a plan. Rows become records in ``records``; here they are matched
against the database and each other (by email, name and organization, or title),
and validated by the same hooks a write runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crm_workspace import CrmError
from crm_workspace.core_rules import consent_value, regrant_refused
from crm_workspace.data.collector import held_off

from . import normalize as nz
from .mapping import CUSTOM, ENTITIES, FIELDS, added_columns
from .reader import Table
from .records import Row, converters, deal_defaults, deal_stages, to_rows

DUPLICATE_MODES = ("update", "skip", "create")


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
    #: the version of each record to update as planned: one changed since is checked again as it is written
    versions: dict[int, Any] = field(default_factory=dict)
    unchanged: list[tuple[int, int]] = field(default_factory=list)  # (row index, record id)
    skipped: list[tuple[int, str]] = field(default_factory=list)
    rejects: list[tuple[int, str]] = field(default_factory=list)
    #: the file's values of each rejected row, for the rejects workbook: the plan keeps no other
    #: cell of the sheet, so the table can be let go before the write
    rejected_values: dict[int, list[Any]] = field(default_factory=dict)
    new_orgs: dict[str, str] = field(default_factory=dict)  # key → name as first written
    #: problem cells for the preview: (row index, header) → message
    problems: dict[tuple[int, str], str] = field(default_factory=dict)
    #: rows imported without their consent cell: a withdrawal is re-granted only by an explicit consent action
    consent_kept: list[tuple[int, str]] = field(default_factory=list)

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
        if self.consent_kept:
            text += f"; {len(self.consent_kept):,} withdrawn marketing consent kept (not re-granted by an import)"
        return text

    def row_number(self, index: int) -> int:
        return self.row_numbers[index]

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
        for index, reason in self.consent_kept[:limit]:
            lines.append(f"  row {self.row_number(index)}: imported without marketing_consent — {reason}")
        return lines


@dataclass
class ImportResult:
    batch_id: str | None
    plan: Plan
    rejects_path: Path | None = None
    dry_run: bool = False


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
        extra = dict.fromkeys(added_columns(workspace, entity), "text")
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
        with self.store.snapshot(), held_off():
            return self._build()

    def _build(self) -> Plan:
        plan = self.plan
        entity = self.entity
        stages_of_deals = deal_stages(self.ws) if entity == "deals" else {}
        rows = to_rows(self.table, self.mapping, self.kinds, converters(self.ws, stages_of_deals), plan)
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
                deal_defaults(record, stages_of_deals)
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
            if self.entity == "contacts":
                self._consent(row, changes, before)
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
            plan.versions[row_id] = before.get("version")

    def _consent(self, row: Row, record: dict[str, Any], before: dict | None) -> None:
        """Consent an import may write: given for a contact who never answered, with the file as its source.

        A withdrawal is never re-granted by an import: that cell is dropped, the rest of
        the row imported, and the row reported (``consent_kept``, the preview's problems).
        """
        if "marketing_consent" not in record:
            return  # nothing to refuse, nothing given: the common import without a consent column
        refused = regrant_refused(record, before)
        if refused:
            for name in ("marketing_consent", "consent_at", "consent_source"):
                record.pop(name, None)
            self.plan.consent_kept.append((row.index, refused))
            header = next((h for h, f in self.mapping.items() if f == "marketing_consent"), None)
            if header is not None:
                self.plan.problems[(row.index, header)] = refused
            return
        try:
            given = consent_value(record.get("marketing_consent")) == 1
            had = before is not None and consent_value(before.get("marketing_consent")) == 1
        except ValueError:
            return  # validation reports it
        if given and not had and not record.get("consent_source"):
            record["consent_source"] = f"import of {self.plan.file_name or 'a file'}"

    def _validate_creates(self) -> None:
        plan = self.plan
        valid = []
        entity = self.entity
        for row in plan.creates:
            if entity == "contacts":
                self._consent(row, row.record, None)
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
    planner = Planner(workspace, entity, table, mapping, on_duplicate)
    planner.plan.file_name, planner.plan.sha256 = file_name, sha256  # known while planning: consent's source
    return planner.build()
