"""Steps as editable table rows and back: what the page's steps editor shows (no JSON to write).

One row per step; which columns count depends on the kind: wait (days, hours), email
(subject, html, text), task (title, days until due), set_field (field, value), set_stage
(stage), branch (on opened|clicked, days to wait for it, yes and no step numbers). Any step
but a branch may say ``then``: the step number to go to next (the number after the last: end).
"""

from __future__ import annotations

from typing import Any

COLUMNS = [
    "kind",
    "days",
    "hours",
    "subject",
    "html",
    "text",
    "title",
    "field",
    "value",
    "stage",
    "on",
    "yes",
    "no",
    "then",
]
_NUMBERS = ("days", "hours", "yes", "no", "then")


def _number(value: Any) -> float | int | None:
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number == int(number) else number


def to_rows(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for step in steps:
        a = step["args"]
        row = dict.fromkeys(COLUMNS, "")
        row["kind"] = step["kind"]
        row.update({k: a[k] for k in COLUMNS if k in a and k != "kind"})
        if step["kind"] == "branch":
            row["days"] = a.get("within_days", "")
        if step["kind"] == "task":
            row["days"] = a.get("due_days", "")
        rows.append({k: ("" if v is None else v) for k, v in row.items()})
    return rows


def from_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    steps = []
    for row in rows:
        kind = str(row.get("kind") or "").strip()
        if not kind:
            continue
        value = {k: (_number(row.get(k)) if k in _NUMBERS else str(row.get(k) or "").strip()) for k in COLUMNS}
        args: dict[str, Any]
        if kind == "wait":
            args = {"days": value["days"] or 0, "hours": value["hours"] or 0}
        elif kind == "email":
            args = {k: value[k] for k in ("subject", "html", "text") if value[k]}
        elif kind == "task":
            args = {"title": value["title"], "due_days": value["days"] or 0}
        elif kind == "set_field":
            args = {"field": value["field"], "value": value["value"]}
        elif kind == "set_stage":
            args = {"stage": value["stage"]}
        elif kind == "branch":
            args = {
                "on": value["on"] or "opened",
                "within_days": value["days"] or 3,
                "yes": value["yes"],
                "no": value["no"],
            }
        else:
            args = {}
        if kind != "branch" and value["then"] is not None:
            args["then"] = value["then"]
        steps.append({"kind": kind, "args": args})
    return steps
