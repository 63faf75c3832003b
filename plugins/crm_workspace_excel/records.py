"""Sheet rows → records: each mapped cell normalized by the kind of its field.

Words a sheet uses for stages, types and statuses are mapped onto this
workspace's vocabulary here; the field rules (email, phone, dates, amounts) are
``crm_workspace.data.fields`` through ``normalize``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from crm_workspace.data import fields
from crm_workspace.data.schema import STAKEHOLDER_TYPES
from crm_workspace.errors import CrmError

from . import normalize as nz
from .normalize import BadValue
from .reader import Table

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
#: Kinds whose value goes somewhere other than one field of the record.
SPECIAL_KINDS = ("amount", "full_name", "organization", "contact", "custom")


@dataclass(slots=True)
class Row:
    """One data row on its way in."""

    index: int  # position in table.rows
    record: dict[str, Any]
    org_name: str | None = None
    contact_ref: str | None = None
    custom: dict[str, str] | None = None  # header → value of columns kept as custom fields


def deal_stages(workspace) -> dict[str, tuple[float | None, str]]:
    """The default pipeline's stages → (probability, status), as the pipeline plugin keeps them.

    Read from its ``pipeline_stages`` table (the stages a team configured), so the importer
    knows the pipeline's vocabulary without importing the pipeline plugin. Empty without it.
    """
    try:
        rows = workspace.store.query(
            "SELECT stage, probability, status FROM pipeline_stages WHERE pipeline = 'default' ORDER BY position"
        )
    except CrmError:  # no pipeline plugin: no deals table either
        return {}
    return {row["stage"]: (row["probability"], row["status"]) for row in rows}


def converters(workspace, stages_of_deals: dict[str, tuple[float | None, str]]) -> dict[str, Callable[[Any], Any]]:
    """Field kind → normalizer for one import (choices bound to this workspace's vocabulary)."""
    stages = tuple(workspace.lifecycle_stages())
    region = fields.phone_region(workspace)  # read once per import
    deal_stages = tuple(stages_of_deals)
    statuses = tuple(dict.fromkeys(("open", "won", "lost", *(status for _p, status in stages_of_deals.values()))))
    return {
        "text": nz.text,
        "full_name": nz.text,
        "organization": nz.text,
        "contact": nz.text,
        "custom": nz.text,
        "email": nz.email,
        "phone": lambda v: nz.phone(v, region),
        "date": nz.date_value,
        "amount": nz.amount,
        "percent": nz.percent,
        "domain": _domain,
        "currency": nz.currency,
        "stakeholder_type": lambda v: nz.choice(v, STAKEHOLDER_TYPES, STAKEHOLDER_SYNONYMS),
        "lifecycle_stage": lambda v: nz.choice(v, stages, LIFECYCLE_SYNONYMS),
        "stage": lambda v: nz.choice(v, deal_stages, STAGE_SYNONYMS),
        "status": lambda v: nz.choice(v, statuses, STATUS_SYNONYMS),
    }


def to_rows(
    table: Table,
    mapping: dict[str, str],
    kinds: dict[str, str],
    convert: dict[str, Callable[[Any], Any]],
    plan,
) -> list[Row]:
    """The rows with a mapped value, as records; bad cells go to ``plan.rejects`` and ``plan.problems``.

    Column by column: each distinct value of a column is normalized once (stages,
    owners, companies repeat), and the records are filled a column at a time, so
    the sheet is never held twice.
    """
    rows = [Row(index, {}) for index in range(len(table.rows))]
    bad: dict[int, list[str]] = {}
    problems = plan.problems
    columns = [
        (i, header, name, kinds[name]) for i, header in enumerate(table.headers) if (name := mapping.get(header))
    ]
    plain = [column for column in columns if column[3] not in SPECIAL_KINDS]
    special = [column for column in columns if column[3] in SPECIAL_KINDS]
    for i, header, name, kind in [*plain, *special]:
        results, failed = _convert_column([values[i] for values in table.rows], convert[kind], kind)
        if failed:
            for index, result in enumerate(results):
                if result.__class__ is BadValue:
                    bad.setdefault(index, []).append(f"{header}: {result}")
                    problems[(index, header)] = str(result)
                    results[index] = None
        if kind in SPECIAL_KINDS:
            for row, result in zip(rows, results, strict=True):
                if result is not None:
                    _place(row, header, name, kind, result)
        else:
            for row, result in zip(rows, results, strict=True):
                if result is not None:
                    row.record[name] = result
    out: list[Row] = []
    for row in rows:
        if row.index in bad:
            plan.rejects.append((row.index, "; ".join(bad[row.index])))
        elif not row.record and row.org_name is None and row.contact_ref is None and not row.custom:
            plan.skipped.append((row.index, "no mapped values"))
        else:
            out.append(row)
    return out


def _convert_column(cells: list[Any], fn: Callable[[Any], Any], kind: str) -> tuple[list[Any], bool]:
    """``fn`` of every cell (a ``BadValue`` where it refused one), computed once per distinct value."""
    distinct = dict.fromkeys(cells)
    classes = {value.__class__ for value in distinct}
    if bool in classes or (int in classes and float in classes):  # True == 1 == 1.0 as keys: one by one
        keys = [(value.__class__, value) for value in cells]
        distinct = dict(zip(keys, cells, strict=True))
    else:
        keys = cells
        distinct = {value: value for value in distinct}
    if kind == "date" and any(fields.is_day_first(value) for value in distinct.values()):
        fn = _date_day_first
    converted: dict[Any, Any] = {}
    failed = False
    for key, value in distinct.items():
        if value is None or value == "":
            converted[key] = None
            continue
        try:
            converted[key] = fn(value)
        except BadValue as error:
            converted[key] = error
            failed = True
    return list(map(converted.__getitem__, keys)), failed


def _place(row: Row, header: str, name: str, kind: str, value: Any) -> None:
    """Put a special column's normalized value where it belongs."""
    record = row.record
    if kind == "amount":
        number, currency = value
        if number is not None:
            record[name] = number
        if currency and "currency" not in record:
            record["currency"] = currency
        return
    if value is None:
        return
    if kind == "full_name":
        first, last = split_name(value)
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


def split_name(value: str) -> tuple[str | None, str | None]:
    """``"García, Ana"`` and ``"Ana García"`` → ``("Ana", "García")``."""
    if "," in value:
        last, _, first = value.partition(",")
        return first.strip() or None, last.strip() or None
    parts = value.split()
    if len(parts) == 1:
        return None, parts[0]
    return " ".join(parts[:-1]), parts[-1]


def deal_defaults(record: dict, stages_of_deals: dict[str, tuple[float | None, str]]) -> None:
    """A deal's status and probability follow from its stage unless the sheet says."""
    stage = record.get("stage")
    if stage:
        probability, status = stages_of_deals.get(stage, (None, "open"))
        record.setdefault("status", status)
        record.setdefault("probability", None if probability is None else float(probability))


def _domain(value: Any) -> str | None:
    raw = nz.text(value)
    if raw is None:
        return None
    raw = raw.lower().split("://", 1)[-1].split("/", 1)[0].split("@")[-1]
    return raw.removeprefix("www.") or None


def _date_day_first(value: Any) -> str | None:
    return nz.date_value(value, day_first=True)
