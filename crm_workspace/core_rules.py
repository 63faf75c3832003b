"""Validation of the core tables' own vocabulary, written as a plugin like any other.

Modules add their own rules (email syntax, phone formats) through the same hook.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from crm_workspace import hookimpl
from crm_workspace.data import schema
from crm_workspace.services import privacy


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _number(record: dict, field: str, errors: dict, *, low: float | None = None, high: float | None = None) -> None:
    if field not in record:  # a partial update that does not touch this field
        return
    value = record[field]
    if _blank(value):
        record[field] = None
        return
    try:
        number = float(value)
    except (TypeError, ValueError):
        errors[field] = f"must be a number, not {value!r}"
        return
    if math.isnan(number) or math.isinf(number):
        errors[field] = "must be a finite number"
    elif low is not None and number < low:
        errors[field] = f"must be at least {low:g}"
    elif high is not None and number > high:
        errors[field] = f"must be at most {high:g}"
    else:
        record[field] = number


def _choice(record: dict, field: str, allowed: tuple | list, errors: dict) -> None:
    if field in record and not _blank(record[field]) and record[field] not in allowed:
        errors[field] = f"unknown value {record[field]!r} (allowed: {', '.join(allowed)})"


def _date(record: dict, field: str, errors: dict) -> None:
    value = record.get(field)
    if _blank(value):
        if field in record:
            record[field] = None
        return
    text = str(value).strip()
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        errors[field] = f"must be an ISO date (YYYY-MM-DD), not {value!r}"
        return
    record[field] = text


def _required(record: dict, before: dict | None, field: str, errors: dict) -> None:
    if (before is None or field in record) and _blank(record.get(field)):
        errors[field] = "is required"


@hookimpl(trylast=True)
def crm_validate_record(workspace, table: str, record: dict, before: dict | None) -> dict[str, str] | None:
    errors: dict[str, str] = {}
    for key, value in list(record.items()):
        if isinstance(value, str) and key not in ("body", "notes", "changes", "value"):
            record[key] = value.strip()
    if table == "organizations":
        _required(record, before, "name", errors)
    elif table == "contacts":
        if before is None and _blank(record.get("first_name")) and _blank(record.get("last_name")):
            errors["last_name"] = "a contact needs a first or last name"
        _choice(record, "stakeholder_type", schema.STAKEHOLDER_TYPES, errors)
        if "lifecycle_stage" in record and not _blank(record["lifecycle_stage"]):
            _choice(record, "lifecycle_stage", workspace.lifecycle_stages(), errors)
        privacy.validate_consent(record, before, errors)
    elif table == "deals":
        _required(record, before, "title", errors)
        _number(record, "amount", errors, low=0)
        _number(record, "probability", errors, low=0, high=100)
        _choice(record, "status", schema.DEAL_STATUSES, errors)
        _date(record, "expected_close", errors)
        _date(record, "closed_at", errors)
    elif table == "activities":
        _required(record, before, "kind", errors)
        _choice(record, "kind", schema.ACTIVITY_KINDS, errors)
        _choice(record, "channel", schema.CHANNELS, errors)
        _date(record, "occurred_at", errors)
        _date(record, "due_at", errors)
    elif table == "relationships":
        _validate_relationship(workspace, record, before, errors)
    elif table == "users":
        _choice(record, "role", schema.ROLES, errors)
    elif table == "lifecycle_events":
        stages = workspace.lifecycle_stages()
        _choice(record, "to_stage", stages, errors)
        _choice(record, "from_stage", stages, errors)
    return errors or None


def _validate_relationship(workspace, record: dict, before: dict | None, errors: dict) -> None:
    merged = {**(before or {}), **record}
    if "strength" in record:
        strength = record["strength"]
        if isinstance(strength, float) and strength.is_integer():
            strength = record["strength"] = int(strength)
        if not isinstance(strength, int) or isinstance(strength, bool) or not 1 <= strength <= 5:
            errors["strength"] = f"must be a whole number from 1 to 5, not {strength!r}"
    for end in ("source", "target"):
        kind = merged.get(f"{end}_type")
        if kind not in ("contacts", "organizations"):
            errors[f"{end}_type"] = "must be 'contacts' or 'organizations'"
            continue
        row_id = merged.get(f"{end}_id")
        if not workspace.store.query(f"SELECT 1 FROM [{kind}] WHERE id = ?", [row_id]):
            errors[f"{end}_id"] = f"{kind} #{row_id} does not exist"
    if (merged.get("source_type"), merged.get("source_id")) == (merged.get("target_type"), merged.get("target_id")):
        errors["target_id"] = "a record cannot have a relationship with itself"
    _choice(record, "kind", schema.RELATIONSHIP_KINDS, errors)


@hookimpl
def crm_dashboards(workspace) -> list:
    """The audit trail page, listed for admins only (crm_workspace/web/audit_view.py)."""
    from crm_workspace.data import permissions
    from crm_workspace.types import Page

    if not permissions.is_admin(workspace):
        return []

    def view(ws):
        from crm_workspace.web.audit_view import audit_page

        return audit_page(ws)

    return [Page("audit", "Audit trail", view=view, icon="shield", order=900, extensions=("tabulator",))]


@hookimpl
def crm_data_views(workspace) -> dict:
    """``ws.df("privacy.marketing_audience")``: contacts with marketing consent given."""
    return {"privacy.marketing_audience": lambda **filters: privacy.marketing_audience(workspace, **filters)}
