"""A segment filter (JSON) compiled to one parameterised SQL condition over ``contacts c``.

A filter is a group::

    {"match": "all", "conditions": [
        {"field": "lifecycle_stage", "op": "in", "value": ["lead", "marketing_qualified"]},
        {"field": "organization.country", "op": "is", "value": "DE"},
        {"match": "any", "conditions": [...]}]}

Values always travel as parameters; names (columns) are only ever those ``fields.resolve``
found in ``store.columns``, quoted. Conditions on other tables become ``c.key IN (SELECT ...)``
(an index walk, not a join per contact); their negations treat a missing row as empty, so
"organization country is not DE" includes contacts without an organization.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from crm_workspace.data.fields import BadValue, normalize_date
from crm_workspace.services.privacy import not_erased

from .fields import ANY_CAMPAIGN, CONSENT_VALUES, NO_VALUE, Field, FieldGone, FilterError, choice_labels, resolve

if TYPE_CHECKING:
    from crm_workspace import Workspace

MAX_CONDITIONS = 50
MAX_DEPTH = 3
#: Positive operator of each negative one: on another table, ``NOT (key IN (positive))``.
NEGATIONS = {
    "is_not": "is",
    "not_in": "in",
    "not_contains": "contains",
    "is_empty": "is_not_empty",
    "ne": "eq",
    "not_in_last_days": "in_last_days",
    "has_none": "has_any",
}
_COMPARE = {"eq": "=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}


@dataclass
class Compiled:
    """The condition (over ``contacts c``), its parameters, the tables it reads, whether it depends on now."""

    sql: str
    params: list[Any]
    tables: frozenset[str] = frozenset({"contacts"})
    relative: bool = False
    fields: tuple[str, ...] = ()

    def select(self, columns: str = "c.id") -> tuple[str, list[Any]]:
        return f"SELECT {columns} FROM contacts c WHERE {self.sql}", list(self.params)

    def count_sql(self) -> tuple[str, list[Any]]:
        return f"SELECT count(*) FROM contacts c WHERE {self.sql}", list(self.params)


@dataclass
class _State:
    workspace: Workspace
    now: datetime
    params: list[Any] = field(default_factory=list)
    tables: set[str] = field(default_factory=lambda: {"contacts"})
    relative: bool = False
    fields: list[str] = field(default_factory=list)
    count: int = 0


def parse(value: str | dict | None) -> dict:
    """A filter from its JSON text (or as is), as a group; empty means every contact."""
    if value in (None, ""):
        return {"match": "all", "conditions": []}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as error:
            raise FilterError(f"the filter is not valid JSON: {error.msg} (line {error.lineno})") from error
    if isinstance(value, list):
        value = {"match": "all", "conditions": value}
    if not isinstance(value, dict):
        raise FilterError("a filter is an object with 'match' and 'conditions'")
    return value


def compile_filter(workspace: Workspace, value: str | dict | None, *, now: datetime | None = None) -> Compiled:
    """``value`` as SQL; ``FilterError`` (``FieldGone`` for a missing field) naming the bad condition."""
    state = _State(workspace, now or datetime.now(UTC))
    sql = _group(state, parse(value), depth=1, path="")
    sql = f"{sql} AND {not_erased('c.id')}"  # an erased person matches no filter
    return Compiled(sql, state.params, frozenset(state.tables), state.relative, tuple(state.fields))


def _group(state: _State, group: dict, *, depth: int, path: str) -> str:
    if depth > MAX_DEPTH:
        raise FilterError(f"groups nest at most {MAX_DEPTH} deep")
    match = str(group.get("match", "all")).lower()
    if match not in ("all", "any"):
        raise FilterError(f"a group matches 'all' or 'any' of its conditions, not {match!r}")
    conditions = group.get("conditions") or []
    if not isinstance(conditions, list):
        raise FilterError("'conditions' must be a list")
    parts = []
    for number, condition in enumerate(conditions, start=1):
        where = f"{path}{number}"
        if not isinstance(condition, dict):
            raise FilterError(f"condition {where} is not an object")
        if "conditions" in condition:
            parts.append(_group(state, condition, depth=depth + 1, path=f"{where}."))
            continue
        state.count += 1
        if state.count > MAX_CONDITIONS:
            raise FilterError(f"a filter has at most {MAX_CONDITIONS} conditions")
        try:
            parts.append(_condition(state, condition))
        except FilterError as error:
            raise type(error)(f"condition {where} ({condition.get('field', '?')}): {error}") from None
    if not parts:
        return "1"
    return "(" + (" AND " if match == "all" else " OR ").join(parts) + ")"


def quote(name: str) -> str:
    """An SQL identifier (a column ``fields.resolve`` found in ``store.columns``), quoted."""
    return '"' + name.replace('"', '""') + '"'


# ------------------------------------------------------------------- values
def _text(value: Any) -> str:
    if isinstance(value, list | dict) or value is None or str(value).strip() == "":
        raise FilterError("give a value")
    return str(value).strip()


def _texts(value: Any) -> list[str]:
    values = value if isinstance(value, list | tuple) else [value] if value not in (None, "") else []
    values = [str(v).strip() for v in values if str(v).strip()]
    if not values:
        raise FilterError("choose at least one value")
    return list(dict.fromkeys(values))


def _number(value: Any) -> float | int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise FilterError(f"{value!r} is not a number") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise FilterError(f"{value!r} is not a number")
    return int(number) if number.is_integer() else number


def _pair(value: Any) -> tuple[Any, Any]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise FilterError("'between' takes two values: [from, to]")
    return value[0], value[1]


def _day(value: Any) -> date:
    try:
        text = normalize_date(value)
    except BadValue as error:
        raise FilterError(str(error)) from None
    if not text:
        raise FilterError("give a date")
    return date.fromisoformat(text[:10])


def _days(value: Any) -> int:
    number = _number(value)
    if number < 0 or number != int(number):
        raise FilterError(f"the number of days must be a whole number ≥ 0, not {value!r}")
    return int(number)


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# --------------------------------------------------------------- predicates
def _predicate(state: _State, f: Field, op: str, value: Any, x: str) -> str:
    """``op`` over expression ``x``; negations are NULL-safe (an empty value is "not X")."""
    p = state.params
    if op in NO_VALUE:
        return f"({x} IS NULL OR {x} = '')" if op == "is_empty" else f"({x} IS NOT NULL AND {x} != '')"
    if f.kind == "consent":
        wanted = str(value or "").strip().lower()
        if wanted not in CONSENT_VALUES:
            raise FilterError(f"consent is one of {', '.join(CONSENT_VALUES)}, not {value!r}")
        p.append(CONSENT_VALUES[wanted])
        return f"{x} IS ?" if op == "is" else f"{x} IS NOT ?"
    if f.kind == "number":
        if op == "between":
            low, high = (_number(v) for v in _pair(value))
            p.extend([low, high])
            return f"{x} BETWEEN ? AND ?"
        p.append(_number(value))
        return f"{x} IS NOT ?" if op == "ne" else f"{x} {_COMPARE[op]} ?"
    if f.kind == "date":
        return _date_predicate(state, op, value, x)
    if op in ("is", "is_not"):
        p.append(_text(value))
        return f"{x} = ?" if op == "is" else f"{x} IS NOT ?"
    if op in ("in", "not_in"):
        values = _texts(value)
        p.extend(values)
        marks = ", ".join("?" * len(values))
        return f"{x} IN ({marks})" if op == "in" else f"coalesce({x} NOT IN ({marks}), 1)"
    if op in ("contains", "not_contains", "starts_with"):
        text = _like(_text(value))
        p.append(f"{text}%" if op == "starts_with" else f"%{text}%")
        return f"coalesce({x} NOT LIKE ? ESCAPE '\\', 1)" if op == "not_contains" else f"{x} LIKE ? ESCAPE '\\'"
    raise FilterError(f"unknown operator {op!r}")


def _date_predicate(state: _State, op: str, value: Any, x: str) -> str:
    p = state.params
    if op in ("in_last_days", "not_in_last_days"):
        state.relative = True
        cutoff = (state.now - timedelta(days=_days(value))).strftime("%Y-%m-%dT%H:%M:%SZ")
        p.append(cutoff)
        return f"{x} >= ?" if op == "in_last_days" else f"coalesce({x} < ?, 1)"
    if op == "before":
        p.append(_day(value).isoformat())
        return f"{x} < ?"
    if op == "after":
        p.append((_day(value) + timedelta(days=1)).isoformat())
        return f"{x} >= ?"
    if op in ("on", "between"):
        first, last = (_day(value), _day(value)) if op == "on" else tuple(_day(v) for v in _pair(value))
        p.extend([first.isoformat(), (last + timedelta(days=1)).isoformat()])
        return f"({x} >= ? AND {x} < ?)"
    raise FilterError(f"unknown operator {op!r}")


def _condition(state: _State, condition: dict) -> str:
    f = resolve(state.workspace, condition.get("field"))
    op = str(condition.get("op") or "").strip()
    if op not in f.ops:
        raise FilterError(f"'{op}' does not apply to this field (use one of: {', '.join(f.ops)})")
    value = condition.get("value")
    state.fields.append(f.key)
    if f.source == "contacts":
        return _predicate(state, f, op, value, f"c.{quote(f.column)}")
    if f.source == "tags":
        return _tags(state, op, value)
    if f.source == "activities":
        return _last_activity(state, f, op, value)
    if f.source == "events":
        return _engagement(state, op, value)
    negated = op in NEGATIONS and f.kind not in ("consent",)
    positive = NEGATIONS[op] if negated else op
    if f.source == "organizations":
        state.tables.add("organizations")
        key, inner, column = "c.organization_id", "SELECT o.id FROM organizations o WHERE ", f"o.{quote(f.column)}"
    elif f.source == "custom":
        state.tables.add("excel_custom_fields")
        state.params.append(f.column)
        key = "c.id"
        inner = "SELECT row_id FROM excel_custom_fields WHERE table_name = 'contacts' AND name = ? AND "
        column = "value"
    elif f.source == "lead_scores":
        state.tables.add("lead_scores")
        key, inner, column = "c.id", "SELECT contact_id FROM lead_scores WHERE ", quote(f.column)
    else:  # pragma: no cover - every source is handled above
        raise FilterError(f"cannot filter on {f.key}")
    predicate = _predicate(state, f, positive, value, column)  # its parameters follow the name's (custom)
    sub = inner + predicate
    return f"coalesce({key} NOT IN ({sub}), 1)" if negated else f"{key} IN ({sub})"


def _tags(state: _State, op: str, value: Any) -> str:
    state.tables.add("contact_tags")
    tags = _texts(value)
    state.params.extend(tags)
    marks = ", ".join("?" * len(tags))
    if op == "has_any":
        return f"c.id IN (SELECT contact_id FROM contact_tags WHERE tag IN ({marks}))"
    if op == "has_none":
        return f"c.id NOT IN (SELECT contact_id FROM contact_tags WHERE tag IN ({marks}) AND contact_id IS NOT NULL)"
    state.params.append(len(tags))
    return (
        f"c.id IN (SELECT contact_id FROM contact_tags WHERE tag IN ({marks})"
        " GROUP BY contact_id HAVING count(DISTINCT tag) = ?)"
    )


def _last_activity(state: _State, f: Field, op: str, value: Any) -> str:
    """The latest activity as set operations on the (occurred_at, contact_id) index, never a max per contact."""
    state.tables.add("activities")
    any_activity = "SELECT contact_id FROM activities WHERE contact_id IS NOT NULL"
    if op in ("is_empty", "is_not_empty"):
        return f"c.id {'NOT IN' if op == 'is_empty' else 'IN'} ({any_activity})"
    if op in ("in_last_days", "not_in_last_days", "after"):
        predicate = _date_predicate(state, "in_last_days" if op != "after" else "after", value, "occurred_at")
        sub = f"{any_activity} AND {predicate}"
        return f"c.id NOT IN ({sub})" if op == "not_in_last_days" else f"c.id IN ({sub})"
    # before D / on D / between: some activity in the window and none at or after its end
    predicate = _date_predicate(state, op, value, "occurred_at")
    end = state.params[-1]
    state.params.append(end)
    window = f"c.id IN ({any_activity} AND {predicate})"
    return f"({window} AND c.id NOT IN ({any_activity} AND occurred_at >= ?))"


def _engagement(state: _State, op: str, value: Any) -> str:
    """Opened or clicked a campaign (by name), any campaign, or any e-mail: a person's event, never a machine's.

    "any" means any *campaign* (a sequence's mail has no campaign and does not count);
    ``ANY_EMAIL`` ("any e-mail") counts campaigns and sequence mail alike.
    """
    state.tables.add("marketing_events")
    kind = "open" if op in ("opened", "not_opened") else "click"
    name = _text(value) if value not in (None, "") else ANY_CAMPAIGN
    sub = "SELECT contact_id FROM marketing_events WHERE kind = ? AND machine = 0 AND contact_id IS NOT NULL"
    state.params.append(kind)
    wanted = _engaged(name)
    if wanted == "any campaign":
        sub += " AND campaign_id IS NOT NULL"
    elif wanted != ANY_EMAIL_WORDS:
        campaign = state.workspace.store.scalar("SELECT id FROM campaigns WHERE name = ? COLLATE NOCASE", [name])
        if campaign is None:
            raise FieldGone(f"there is no campaign named '{name}' (any more)")
        sub += " AND campaign_id = ?"
        state.params.append(campaign)
    return f"c.id {'NOT IN' if op.startswith('not_') else 'IN'} ({sub})"


ANY_EMAIL_WORDS = "any e-mail (campaign or sequence)"


def _engaged(value: Any) -> str:
    """What an engagement condition is about, in words: "any campaign", "any e-mail (…)" or the campaign's name."""
    text = str(value or ANY_CAMPAIGN).strip()
    plain = " ".join(text.lower().replace("-", "").split())
    if plain in ("any", "any campaign"):
        return "any campaign"
    if plain in ("any email", "any email (campaign or sequence)", "any campaign or sequence email"):
        return ANY_EMAIL_WORDS
    return text


def describe(workspace: Workspace, value: str | dict | None) -> str:
    """A filter in words: "lifecycle stage is one of lead, mql AND organization country is DE"."""
    group = parse(value)
    return _describe(workspace, group) or "every contact"


def _describe(workspace: Workspace, group: dict) -> str:
    joiner = " OR " if str(group.get("match", "all")).lower() == "any" else " AND "
    parts = []
    for condition in group.get("conditions") or []:
        if not isinstance(condition, dict):
            continue
        if "conditions" in condition:
            inner = _describe(workspace, condition)
            parts.append(f"({inner})" if inner else "")
            continue
        key, op, value = condition.get("field", "?"), condition.get("op", "?"), condition.get("value")
        names: dict[str, str] = {}
        try:
            f = resolve(workspace, key)
            label, words, names = f.label.lower(), f.ops.get(op, op), choice_labels(f)
        except FilterError:
            label, words = f"{key} (missing)", op
        if op in NO_VALUE:
            parts.append(f"{label} {words}")
        elif op in ("in_last_days", "not_in_last_days"):
            parts.append(f"{label} {'not ' if op.startswith('not') else ''}in the last {value} days")
        elif key == "email_engagement":
            parts.append(f"{words} {_engaged(value)}")
        else:
            values = value if isinstance(value, list | tuple) else [value]
            shown = ", ".join(names.get(str(v), str(v)) for v in values)  # a stage's label, not its code
            parts.append(f"{label} {words} {shown}")
    return joiner.join(p for p in parts if p)
