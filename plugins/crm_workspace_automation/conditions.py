"""A rule's conditions: checked when saved, evaluated on a change, compiled to SQL for time rules.

A condition is ``{"field": ..., "op": ..., "value": ...}``; a rule matches when all hold.

| op | holds when |
| --- | --- |
| ``equals`` / ``not`` | the field's new value is (is not) ``value`` (compared as text, so 5 equals "5") |
| ``in`` | the value is one of ``value`` (a list, or text separated by commas) |
| ``>`` / ``<`` | the value is a number above (below) ``value`` |
| ``contains`` | the text contains ``value``, ignoring case |
| ``changed to`` | this write changed the field, to ``value`` (an insert counts as a change from nothing) |
| ``is empty`` / ``is not empty`` | no value (NULL or blank text) / a value |
| ``no activity for days`` | time rules only, no field: the record has had no activity for ``value`` days |
"""

from __future__ import annotations

from typing import Any

OPS = ("equals", "not", "in", ">", "<", "contains", "changed to", "is empty", "is not empty")
NO_ACTIVITY = "no activity for days"
ALIASES = {
    "eq": "equals",
    "==": "equals",
    "=": "equals",
    "ne": "not",
    "!=": "not",
    "gt": ">",
    "lt": "<",
    "changed_to": "changed to",
    "is_empty": "is empty",
    "empty": "is empty",
    "not_empty": "is not empty",
    "is_not_empty": "is not empty",
    "no_activity_days": NO_ACTIVITY,
    "no activity": NO_ACTIVITY,
}
#: Tables with a timeline: where "no activity" is measured, by the activity column naming them.
TIMELINE = {"contacts": "contact_id", "organizations": "organization_id", "deals": "deal_id"}


def op_of(condition: dict) -> str:
    op = str(condition.get("op", "equals")).strip().lower()
    return ALIASES.get(op, op)


def _values(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value]
    return [v.strip() for v in str(value or "").split(",") if v.strip()]


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def problems(conditions: Any, columns: dict[str, str], table: str, trigger: str) -> dict[str, str]:
    """What is wrong with ``conditions`` for a rule on ``table`` (empty when they are fine)."""
    errors: dict[str, str] = {}
    if not isinstance(conditions, list):
        return {"conditions": "must be a list of {field, op, value}"}
    has_time = False
    for i, condition in enumerate(conditions, 1):
        key = f"conditions[{i}]"
        if not isinstance(condition, dict):
            errors[key] = "must be {field, op, value}"
            continue
        op = op_of(condition)
        if op == NO_ACTIVITY:
            has_time = True
            if trigger != "time":
                errors[key] = "'no activity for days' needs the time trigger (evaluated by the scheduler)"
            elif table not in TIMELINE:
                errors[key] = f"'no activity' is measured on {', '.join(TIMELINE)} only"
            elif not (_number(condition.get("value")) or 0) > 0:
                errors[key] = "'no activity for days' needs a number of days above 0"
            continue
        if op not in OPS:
            errors[key] = f"unknown op {condition.get('op')!r} (ops: {', '.join(OPS)}, {NO_ACTIVITY})"
            continue
        field = str(condition.get("field") or "")
        if field not in columns:
            errors[key] = f"{table} has no field {field!r}"
        elif op in (">", "<") and _number(condition.get("value")) is None:
            errors[key] = f"'{op}' compares numbers: {condition.get('value')!r} is not one"
        elif op == "changed to" and trigger == "time":
            errors[key] = "'changed to' needs a create or update trigger"
    if trigger == "time" and not has_time:
        errors.setdefault("conditions", "a time rule needs a 'no activity for days' condition")
    return errors


def missing_fields(conditions: list[dict], columns: dict[str, str]) -> list[str]:
    """Fields the conditions name that the table no longer has."""
    return [
        str(c.get("field"))
        for c in conditions
        if isinstance(c, dict) and op_of(c) != NO_ACTIVITY and c.get("field") not in columns
    ]


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "" if value is None else str(value)


def holds(condition: dict, after: dict, before: dict | None) -> bool:
    """Whether one condition holds for a change from ``before`` (None: insert) to ``after``."""
    op = op_of(condition)
    field = condition.get("field")
    value = (after or {}).get(field)
    wanted = condition.get("value")
    if op == "equals":
        return _text(value) == _text(wanted)
    if op == "not":
        return _text(value) != _text(wanted)
    if op == "in":
        return _text(value) in _values(wanted)
    if op in (">", "<"):
        number, limit = _number(value), _number(wanted)
        if number is None or limit is None:
            return False
        return number > limit if op == ">" else number < limit
    if op == "contains":
        return _text(wanted).lower() in _text(value).lower()
    if op == "changed to":
        old = None if before is None else before.get(field)
        return _text(value) == _text(wanted) and (before is None or _text(old) != _text(value))
    if op == "is empty":
        return value is None or _text(value).strip() == ""
    if op == "is not empty":
        return not (value is None or _text(value).strip() == "")
    return False


def all_hold(conditions: list[dict], after: dict, before: dict | None) -> bool:
    return all(holds(c, after, before) for c in conditions if op_of(c) != NO_ACTIVITY)


def to_sql(conditions: list[dict], alias: str, params: dict) -> tuple[str, int | None]:
    """The field conditions as SQL over ``alias`` (parameters added to ``params``), and the quiet days."""
    parts, days = [], None
    for i, condition in enumerate(conditions):
        op = op_of(condition)
        if op == NO_ACTIVITY:
            days = int(_number(condition.get("value")) or 0)
            continue
        column = f"{alias}.[{condition['field']}]"
        name = f"c{i}"
        wanted = condition.get("value")
        if op == "equals":
            parts.append(f"CAST({column} AS TEXT) = :{name}")
            params[name] = _text(wanted)
        elif op == "not":
            parts.append(f"coalesce(CAST({column} AS TEXT), '') != :{name}")
            params[name] = _text(wanted)
        elif op == "in":
            values = _values(wanted)
            marks = ", ".join(f":{name}_{j}" for j in range(len(values))) or "NULL"
            parts.append(f"CAST({column} AS TEXT) IN ({marks})")
            params.update({f"{name}_{j}": v for j, v in enumerate(values)})
        elif op in (">", "<"):
            parts.append(f"CAST({column} AS REAL) {op} :{name} AND {column} IS NOT NULL AND {column} != ''")
            params[name] = _number(wanted)
        elif op == "contains":
            parts.append(f"instr(lower(coalesce({column}, '')), :{name}) > 0")
            params[name] = _text(wanted).lower()
        elif op == "is empty":
            parts.append(f"({column} IS NULL OR trim({column}) = '')")
        elif op == "is not empty":
            parts.append(f"({column} IS NOT NULL AND trim({column}) != '')")
    return " AND ".join(parts) or "1", days
