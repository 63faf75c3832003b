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

from . import helper
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
        "phone": PhoneIn(region),
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
    owners, companies repeat), and the records are filled a column at a time. In a
    big sheet, part of the distinct phones and emails go to a helper process
    (``helper.py``) while this one converts the rest and the other columns.
    """
    rows = [Row(index, {}) for index in range(len(table.rows))]
    bad: dict[int, list[str]] = {}
    problems = plan.problems
    columns = [
        (i, header, name, kinds[name]) for i, header in enumerate(table.headers) if (name := mapping.get(header))
    ]
    plain = [column for column in columns if column[3] not in SPECIAL_KINDS]
    special = [column for column in columns if column[3] in SPECIAL_KINDS]
    ordered = [*plain, *special]
    shared = _share(table, ordered, convert)
    try:
        converted = [
            None if i in shared.columns else _convert_column([values[i] for values in table.rows], convert[kind], kind)
            for i, _header, _name, kind in ordered
        ]
        answers = shared.finish()
    except BaseException:
        shared.stop()
        raise
    for at, (i, _header, _name, _kind) in enumerate(ordered):
        if i in shared.columns:
            converted[at] = shared.columns[i].results(answers)
    for (_i, header, name, kind), (results, failed) in zip(ordered, converted, strict=True):
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


class PhoneIn:
    """The phone converter of one import: ``normalize.phone`` in the workspace's region."""

    __slots__ = ("region",)

    def __init__(self, region: str):
        self.region = region

    def __call__(self, value: Any) -> str | None:
        return nz.phone(value, self.region)


def _distinct(cells: list[Any]) -> tuple[list[Any], dict[Any, Any]]:
    """(a key of every cell, key → value of each distinct cell)."""
    distinct = dict.fromkeys(cells)
    classes = {value.__class__ for value in distinct}
    if bool in classes or (int in classes and float in classes):  # True == 1 == 1.0 as keys: one by one
        keys = [(value.__class__, value) for value in cells]
        return keys, dict(zip(keys, cells, strict=True))
    return cells, {value: value for value in distinct}


def _convert_column(cells: list[Any], fn: Callable[[Any], Any], kind: str) -> tuple[list[Any], bool]:
    """``fn`` of every cell (a ``BadValue`` where it refused one), computed once per distinct value."""
    keys, distinct = _distinct(cells)
    if kind == "date" and any(fields.is_day_first(value) for value in distinct.values()):
        fn = _date_day_first
    converted, failed = _convert_values(distinct, fn)
    return list(map(converted.__getitem__, keys)), failed


def _convert_values(distinct: dict[Any, Any], fn: Callable[[Any], Any]) -> tuple[dict[Any, Any], bool]:
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
    return converted, failed


class _SharedColumn:
    """A phone or email column whose distinct values this process and the helper convert between them."""

    def __init__(self, cells: list[Any], fn: Callable[[Any], Any]):
        self.keys, distinct = _distinct(cells)
        todo = [key for key, value in distinct.items() if not (value is None or value == "")]
        cut = round(len(todo) * LOCAL_SHARE)
        self.local = {key: distinct[key] for key in todo[:cut]}
        self.remote = todo[cut:]
        self.values = [distinct[key] for key in self.remote]
        self.fn = fn
        self.task = -1  # its place among the helper's tasks
        self.converted: dict[Any, Any] = {}
        self.failed = False

    def convert_here(self) -> None:
        self.converted, self.failed = _convert_values(self.local, self.fn)

    def results(self, answers: list[list[Any]] | None) -> tuple[list[Any], bool]:
        converted, failed = self.converted, self.failed
        if answers is None:  # no helper after all: the rest here too
            rest, rest_failed = _convert_values(dict(zip(self.remote, self.values, strict=True)), self.fn)
            converted.update(rest)
            failed = failed or rest_failed
        else:
            for key, answer in zip(self.remote, answers[self.task], strict=True):
                if answer.__class__ is tuple:
                    answer = BadValue(answer[0])
                    failed = True
                converted[key] = answer
        get = converted.get  # blank cells: None
        return [get(key) for key in self.keys], failed


class _Share:
    """The columns shared with a helper process (none when the sheet is small or there is no second core)."""

    def __init__(self, columns: dict[int, _SharedColumn], worker: Any = None):
        self.columns = columns
        self.worker = worker

    def finish(self) -> list[list[Any]] | None:
        """Convert this process's part, then take the helper's answers (None: it failed, convert the rest here)."""
        for column in self.columns.values():
            column.convert_here()
        if self.worker is None:
            return None
        try:
            answers = self.worker.results()
        except helper.HelperFailed:
            return None
        finally:
            self.worker = None
        lengths = [len(column.values) for column in self.columns.values()]
        if not isinstance(answers, list) or [len(a) if isinstance(a, list) else -1 for a in answers] != lengths:
            return None  # not the answers asked for: converted here instead
        return answers

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker = None


#: The part of a shared column's distinct values this process converts (it also converts the other columns).
LOCAL_SHARE = 0.5


def _share(table: Table, columns: list[tuple[int, str, str, str]], convert: dict[str, Callable[[Any], Any]]) -> _Share:
    """Start a helper on part of the phone and email columns of a big sheet; ``_Share({})`` otherwise."""
    candidates = [
        (i, kind)
        for i, _header, _name, kind in columns
        if kind in helper.KINDS and (convert[kind] is nz.email or convert[kind].__class__ is PhoneIn)
    ]
    if not candidates or not helper.wanted(len(table.rows) * len(candidates)):
        return _Share({})
    shared = {i: _SharedColumn([values[i] for values in table.rows], convert[kind]) for i, kind in candidates}
    if sum(len(column.remote) for column in shared.values()) < helper.MIN_VALUES // 2:
        return _Share({})  # mostly repeats: not worth a helper
    regions = [convert[kind].region for _i, kind in candidates if kind == "phone"]
    tasks = []
    for (_i, kind), column in zip(candidates, shared.values(), strict=True):
        column.task = len(tasks)
        tasks.append((kind, column.values))
    try:
        worker = helper.Helper(regions[0] if regions else "", tasks)
    except helper.HelperFailed:
        worker = None
    return _Share(shared, worker)


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
