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
from crm_workspace.data.schema import DEAL_STAGES, DEAL_STATUSES, STAKEHOLDER_TYPES

from . import normalize as nz
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
STAGE_STATUS = {stage: status for stage, _p, status in DEAL_STAGES}
STAGE_PROBABILITY = {stage: float(p) for stage, p, _s in DEAL_STAGES}
#: Kinds whose value goes somewhere other than one field of the record.
SPECIAL_KINDS = ("amount", "full_name", "organization", "contact", "custom")
#: Distinct values remembered per column (stages, owners, companies repeat; emails do not).
MEMO_LIMIT = 250_000


@dataclass(slots=True)
class Row:
    """One data row on its way in."""

    index: int  # position in table.rows
    record: dict[str, Any]
    org_name: str | None = None
    contact_ref: str | None = None
    custom: dict[str, str] | None = None  # header → value of columns kept as custom fields


def converters(workspace) -> dict[str, Callable[[Any], Any]]:
    """Field kind → normalizer for one import (choices bound to this workspace's vocabulary)."""
    stages = tuple(workspace.lifecycle_stages())
    region = fields.phone_region(workspace)  # read once per import
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
        "amount": nz.amount,
        "percent": nz.percent,
        "domain": _domain,
        "currency": nz.currency,
        "stakeholder_type": lambda v: nz.choice(v, STAKEHOLDER_TYPES, STAKEHOLDER_SYNONYMS),
        "lifecycle_stage": lambda v: nz.choice(v, stages, LIFECYCLE_SYNONYMS),
        "stage": lambda v: nz.choice(v, deal_stages, STAGE_SYNONYMS),
        "status": lambda v: nz.choice(v, DEAL_STATUSES, STATUS_SYNONYMS),
    }


def to_rows(
    table: Table,
    mapping: dict[str, str],
    kinds: dict[str, str],
    convert: dict[str, Callable[[Any], Any]],
    plan,
) -> list[Row]:
    """The rows with a mapped value, as records; bad cells go to ``plan.rejects`` and ``plan.problems``."""
    columns = []
    for i, header in enumerate(table.headers):
        name = mapping.get(header)
        if name:
            kind = kinds[name]
            fn = convert[kind]
            if kind == "date" and any(fields.is_day_first(values[i]) for values in table.rows):
                fn = _date_day_first
            columns.append((i, header, name, kind, fn))
    # one memo per plain column: each distinct value is normalized once
    memos = [(i, header, name, fn, {}) for i, header, name, kind, fn in columns if kind not in SPECIAL_KINDS]
    special = [column for column in columns if column[3] in SPECIAL_KINDS]
    out: list[Row] = []
    problems = plan.problems
    BadValue = nz.BadValue
    miss = object()
    for index, values in enumerate(table.rows):
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
                if len(memo) < MEMO_LIMIT:
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
                value = fn(value)
            except BadValue as error:
                errors = errors or []
                errors.append(f"{header}: {error}")
                problems[(index, header)] = str(error)
                continue
            _place(row, header, name, kind, value)
        if errors:
            plan.rejects.append((index, "; ".join(errors)))
            continue
        if not record and row.org_name is None and row.contact_ref is None and not row.custom:
            plan.skipped.append((index, "no mapped values"))
            continue
        out.append(row)
    return out


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


def deal_defaults(record: dict) -> None:
    """A deal's status and probability follow from its stage unless the sheet says."""
    stage = record.get("stage")
    if stage:
        record.setdefault("status", STAGE_STATUS.get(stage, "open"))
        record.setdefault("probability", STAGE_PROBABILITY.get(stage))


def _domain(value: Any) -> str | None:
    raw = nz.text(value)
    if raw is None:
        return None
    raw = raw.lower().split("://", 1)[-1].split("/", 1)[0].split("@")[-1]
    return raw.removeprefix("www.") or None


def _date_day_first(value: Any) -> str | None:
    return nz.date_value(value, day_first=True)
