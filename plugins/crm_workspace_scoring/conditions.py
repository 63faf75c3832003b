"""A rule's condition (JSON a person edits) checked and compiled to SQL with bound values.

Fit rules test the contact and its organization::

    {"field": "title", "op": "contains", "value": "Director"}
    {"field": "organization.industry", "op": "in", "value": ["software", "finance"]}
    {"all": [cond, ...]}   {"any": [cond, ...]}   {"not": cond}

Engagement rules count events, each worth the rule's points (decayed by age, capped)::

    {"count": "activities", "kind": "email", "within_days": 30}
    {"count": "marketing_events", "kind": "click", "within_days": 90}

Field names are checked against the tables' real columns and quoted; every value is a
bound parameter: a condition can never become SQL of its author's choosing.
"""

from __future__ import annotations

import json
from typing import Any

from crm_workspace.errors import CrmError

TEXT_OPS = ("equals", "not_equals", "contains", "not_contains", "starts_with", "ends_with", "in", "not_in")
NUMBER_OPS = ("gt", "gte", "lt", "lte")
PRESENCE_OPS = ("is_set", "is_empty")
OPS = TEXT_OPS + NUMBER_OPS + PRESENCE_OPS
SOURCES = ("activities", "marketing_events")
#: what a marketing event's kind and time columns may be called (the marketing plugin owns the table)
EVENT_KIND_COLUMNS = ("kind", "type", "event")
EVENT_TIME_COLUMNS = ("at", "occurred_at", "created_at")


class BadCondition(CrmError):
    """A rule condition that cannot be used; the message says what to change."""


def parse(condition: Any) -> dict:
    """The condition as a dict, from JSON text or a dict."""
    if isinstance(condition, str):
        try:
            condition = json.loads(condition)
        except json.JSONDecodeError as error:
            raise BadCondition(f"the condition is not valid JSON: {error.msg} (line {error.lineno})") from None
    if not isinstance(condition, dict):
        raise BadCondition('a condition is a JSON object, e.g. {"field": "title", "op": "contains", "value": "CEO"}')
    return condition


def _like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def fit_sql(store, condition: Any) -> tuple[str, list]:
    """A boolean SQL expression over ``c`` (contacts) and ``o`` (their organization), with its parameters."""
    condition = parse(condition)
    contact_cols, org_cols = store.columns("contacts"), store.columns("organizations")
    params: list = []

    def column(name: Any) -> str:
        if not isinstance(name, str) or not name:
            raise BadCondition('each test names a field, e.g. "title" or "organization.industry"')
        table, _, field = name.rpartition(".")
        if table in ("", "contact", "contacts") and field in contact_cols:
            return f'c."{field}"'
        if table in ("organization", "organizations", "org") and field in org_cols:
            return f'o."{field}"'
        fields = ", ".join([*sorted(contact_cols), *(f"organization.{f}" for f in sorted(org_cols))])
        raise BadCondition(f"no field {name!r}: use one of {fields}")

    def text(value: Any, op: str) -> str:
        if isinstance(value, list | dict) or value is None:
            raise BadCondition(f"{op!r} compares with one value, not {json.dumps(value)}")
        return str(value)

    def compile_(node: Any) -> str:
        if not isinstance(node, dict):
            raise BadCondition(f"a test is a JSON object, not {json.dumps(node)}")
        for combinator, joiner in (("all", " AND "), ("any", " OR ")):
            if combinator in node:
                parts = node[combinator]
                if not isinstance(parts, list) or not parts:
                    raise BadCondition(f"{combinator!r} takes a non-empty list of tests")
                return "(" + joiner.join(compile_(p) for p in parts) + ")"
        if "not" in node:
            return f"NOT coalesce({compile_(node['not'])}, 0)"
        col = column(node.get("field"))
        op = node.get("op", "equals")
        value = node.get("value")
        if op not in OPS:
            raise BadCondition(f"unknown op {op!r}: use one of {', '.join(OPS)}")
        if op == "is_set":
            return f"({col} IS NOT NULL AND trim({col}) != '')"
        if op == "is_empty":
            return f"({col} IS NULL OR trim({col}) = '')"
        if op in ("in", "not_in"):
            if not isinstance(value, list) or not value or any(isinstance(v, list | dict) for v in value):
                raise BadCondition(f'{op!r} takes a non-empty list of values, e.g. ["software", "finance"]')
            params.extend(str(v).lower() for v in value)
            marks = ", ".join("?" * len(value))
            test = f"lower({col}) IN ({marks})"
            return f"coalesce({test}, 0)" if op == "in" else f"NOT coalesce({test}, 0)"
        if op in NUMBER_OPS:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise BadCondition(f"{op!r} compares with a number, not {json.dumps(value)}")
            params.append(value)
            sign = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[op]
            return f"coalesce(CAST({col} AS REAL) {sign} ?, 0)"
        value = text(value, op)
        if op in ("equals", "not_equals"):
            params.append(value.lower())
            test = f"coalesce(lower({col}) = ?, 0)"
            return test if op == "equals" else f"NOT {test}"
        pattern = {"contains": "%{}%", "not_contains": "%{}%", "starts_with": "{}%", "ends_with": "%{}"}[op]
        params.append(pattern.format(_like(value)))
        test = f"coalesce({col} LIKE ? ESCAPE '\\', 0)"  # LIKE ignores ASCII case
        return f"NOT {test}" if op == "not_contains" else test

    return compile_(condition), params


def event_columns(store) -> tuple[str, str] | None:
    """The kind and time columns of ``marketing_events``, or None when there is no usable table yet."""
    try:
        columns = store.columns("marketing_events")
    except CrmError:
        return None
    kind = next((c for c in EVENT_KIND_COLUMNS if c in columns), None)
    at = next((c for c in EVENT_TIME_COLUMNS if c in columns), None)
    if not kind or not at or "contact_id" not in columns or "machine" not in columns:
        return None
    return kind, at


def engagement_sql(store, condition: Any, now: str = "") -> tuple[str, str, str, list] | None:
    """``(table, time column, WHERE over alias e, params)`` of the events a rule counts as of ``now``.

    None when it counts marketing events and the workspace has no ``marketing_events``
    table yet (the rule then gives nothing). Machine events (``machine`` != 0: scanners,
    prefetches) never count.
    """
    condition = parse(condition)
    source = condition.get("count")
    if source not in SOURCES:
        raise BadCondition(f'an engagement rule counts one of {", ".join(SOURCES)}: {{"count": "activities", ...}}')
    unknown = sorted(set(condition) - {"count", "kind", "channel", "within_days"})
    if unknown:
        raise BadCondition(f"unknown key(s) {', '.join(unknown)}: use kind, channel, within_days")
    if source == "marketing_events" and "channel" in condition:
        raise BadCondition("marketing events have no channel: filter them by kind")
    days = condition.get("within_days")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int | float) or days <= 0):
        raise BadCondition(f"within_days is a positive number of days, not {json.dumps(days)}")
    if source == "activities":
        table, kind_col, time_col, tests = "activities", "kind", "occurred_at", []
    else:
        found = event_columns(store)
        if found is None:
            return None
        (kind_col, time_col), table = found, "marketing_events"
        tests = ["coalesce(e.machine, 0) = 0"]
    params: list = []
    for key, col in (("kind", kind_col), ("channel", "channel")):
        if key not in condition:
            continue
        values = condition[key] if isinstance(condition[key], list) else [condition[key]]
        if not values or any(not isinstance(v, str) or not v for v in values):
            raise BadCondition(f"{key} is a name or a list of names, not {json.dumps(condition[key])}")
        # unary +: never an index on kind (marketing_events has one, for segments). A rescore reads
        # the events of the contacts in scope by contact; walking every click of everyone through
        # the kind index cost a single contact's rescore (each write's) milliseconds
        tests.append(f'+e."{col}" IN ({", ".join("?" * len(values))})')
        params.extend(values)
    if days is not None:
        tests.append(f"e.\"{time_col}\" >= strftime('%Y-%m-%dT%H:%M:%SZ', ?, ?)")
        params.extend([now, f"-{float(days)} days"])
    tests.append(f'e."{time_col}" <= ?')
    params.append(now)
    return table, time_col, " AND ".join(tests), params


def check(store, kind: str, condition: Any) -> str | None:
    """Why a rule of ``kind`` cannot use ``condition``, or None."""
    try:
        if kind == "fit":
            fit_sql(store, condition)
        elif kind == "engagement":
            engagement_sql(store, condition)
        else:
            return f"kind is fit or engagement, not {kind!r}"
    except BadCondition as error:
        return str(error)
    return None


def describe(kind: str, condition: Any) -> str:
    """A short human reading of a condition, for tables and the record section."""
    try:
        node = parse(condition)
    except BadCondition:
        return str(condition)
    if kind == "engagement":
        parts = [str(node.get("kind") or node.get("count", "")).replace("_", " ")]
        if node.get("channel"):
            parts.append(f"via {node['channel']}")
        if node.get("within_days"):
            parts.append(f"in the last {node['within_days']:g} days")
        return "each " + " ".join(parts)

    def words(n: Any) -> str:
        if not isinstance(n, dict):
            return str(n)
        if "all" in n:
            return " and ".join(words(p) for p in n["all"])
        if "any" in n:
            return "(" + " or ".join(words(p) for p in n["any"]) + ")"
        if "not" in n:
            return f"not ({words(n['not'])})"
        value = n.get("value")
        shown = ", ".join(map(str, value)) if isinstance(value, list) else ("" if value is None else str(value))
        return f"{n.get('field')} {str(n.get('op', 'equals')).replace('_', ' ')} {shown}".strip()

    return words(node)
