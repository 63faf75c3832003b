"""Scoring rules the team edits: validation, the suggested set, saving through the Store."""

from __future__ import annotations

import json
import math
from typing import Any

from crm_workspace.data import checks

from . import conditions

KINDS = ("fit", "engagement")

SUGGESTED: tuple[dict[str, Any], ...] = (
    {
        "name": "Senior title",
        "kind": "fit",
        "condition": {
            "any": [
                {"field": "title", "op": "contains", "value": "Director"},
                {"field": "title", "op": "contains", "value": "Head of"},
                {"field": "title", "op": "contains", "value": "VP"},
                {"field": "title", "op": "in", "value": ["CEO", "CFO", "COO", "CTO", "CIO"]},
            ]
        },
        "points": 10,
        "description": "Directors, heads of, VPs and the C-suite decide.",
    },
    {
        "name": "Target industry",
        "kind": "fit",
        "condition": {"field": "organization.industry", "op": "in", "value": ["software", "finance", "logistics"]},
        "points": 5,
        "description": "The industries we sell best in.",
    },
    {
        "name": "Reachable",
        "kind": "fit",
        "condition": {"all": [{"field": "email", "op": "is_set"}, {"field": "phone", "op": "is_set"}]},
        "points": 2,
    },
    {
        "name": "Not a buyer",
        "kind": "fit",
        "condition": {"field": "stakeholder_type", "op": "in", "value": ["employee", "supplier", "media"]},
        "points": -25,
        "description": "Colleagues, suppliers and journalists are not leads.",
    },
    {
        "name": "Emails (30 days)",
        "kind": "engagement",
        "condition": {"count": "activities", "kind": "email", "within_days": 30},
        "points": 3,
        "cap": 15,
        "half_life_days": 14,
    },
    {
        "name": "Calls (60 days)",
        "kind": "engagement",
        "condition": {"count": "activities", "kind": "call", "within_days": 60},
        "points": 4,
        "cap": 12,
        "half_life_days": 21,
    },
    {
        "name": "Meetings (90 days)",
        "kind": "engagement",
        "condition": {"count": "activities", "kind": "meeting", "within_days": 90},
        "points": 8,
        "cap": 24,
        "half_life_days": 30,
    },
    {
        "name": "Email clicks (90 days)",
        "kind": "engagement",
        "condition": {"count": "marketing_events", "kind": "click", "within_days": 90},
        "points": 5,
        "cap": 20,
        "half_life_days": 14,
        "description": "Clicks in campaign e-mails by people (machine events never count).",
    },
)


def _number(record: dict, field: str, errors: dict, *, positive: bool = False, allow_none: bool = True) -> None:
    value = record.get(field)
    if value is None or value == "":
        record[field] = None
        if not allow_none:
            errors[field] = "is required"
        return
    try:
        number = float(value)
    except (TypeError, ValueError):
        errors[field] = f"must be a number, not {value!r}"
        return
    if not math.isfinite(number) or (positive and number <= 0) or (not positive and field == "cap" and number < 0):
        errors[field] = f"must be {'more than 0' if positive else 'a finite number'}, not {value!r}"
        return
    record[field] = number


def validate(workspace, record: dict, before: dict | None) -> dict[str, str] | None:
    """A rule's name, kind, condition (compiled to be sure), points, cap and half-life."""
    errors: dict[str, str] = {}
    if isinstance(record.get("condition"), dict | list):
        record["condition"] = json.dumps(record["condition"])
    checks.strip_text(record)
    checks.required(record, before, "name", errors)
    checks.choice(record, "kind", KINDS, errors)
    merged = {**(before or {}), **record}
    if "points" in record or before is None:
        _number(record, "points", errors, allow_none=False)
    for field, positive in (("cap", False), ("half_life_days", True)):
        if field in record:
            _number(record, field, errors, positive=positive)
    if "enabled" in record:
        record["enabled"] = 1 if record["enabled"] in (1, True, "1", "true", "yes") else 0
    merged = {**merged, **record}
    if merged.get("kind") == "fit":
        for field in ("cap", "half_life_days"):
            if merged.get(field) is not None:
                errors[field] = "only engagement rules have a cap or a half-life (a fit rule gives its points once)"
    if "condition" in record or "kind" in record or before is None:
        if merged.get("condition") in (None, ""):
            errors["condition"] = "is required"
        elif merged.get("kind") in KINDS:
            problem = conditions.check(workspace.store, merged["kind"], merged["condition"])
            if problem:
                errors["condition"] = problem
            else:  # stored as compact, sorted JSON
                record["condition"] = json.dumps(conditions.parse(merged["condition"]))
    return errors or None


def suggested_row(rule: dict) -> dict:
    """A suggested rule as stored (the condition as JSON text: large demos insert without validation)."""
    return {**rule, "condition": json.dumps(rule["condition"]), "enabled": 1}


def add_suggested(workspace) -> int:
    """Add the suggested rules that are missing (by name); returns how many were added."""
    have = {r["name"].lower() for r in workspace.store.query("SELECT name FROM score_rules")}
    new = [suggested_row(rule) for rule in SUGGESTED if rule["name"].lower() not in have]
    if new:
        workspace.store.insert_many("score_rules", new)
    return len(new)


def save(workspace, values: dict, rule_id: int | None = None, version: int | None = None) -> dict:
    """Create a rule, or update one against the ``version`` the person saw."""
    if rule_id is None:
        return workspace.store.insert("score_rules", values)
    return workspace.store.update("score_rules", rule_id, values, version=version)


def set_enabled(workspace, rule_id: int, enabled: bool, version: int | None = None) -> dict:
    return workspace.store.update("score_rules", rule_id, {"enabled": 1 if enabled else 0}, version=version)
