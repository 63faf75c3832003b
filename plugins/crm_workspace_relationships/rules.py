"""Validation of relationships: no duplicates (``model.duplicate_message``), ends that exist, a kind, a strength."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crm_workspace.data import checks

from .editing import duplicate_message
from .schema import RELATIONSHIP_KINDS

if TYPE_CHECKING:
    from crm_workspace import Workspace


def validate(workspace: Workspace, record: dict, before: dict | None) -> dict[str, str] | None:
    errors = duplicate_message(workspace, record, before) or {}
    fields: dict[str, str] = {}
    checks.strip_text(record)
    _validate_ends(workspace, record, before, fields)
    for field, message in fields.items():
        errors.setdefault(field, message)
    return errors or None


def _validate_ends(workspace: Workspace, record: dict, before: dict | None, errors: dict) -> None:
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
    checks.choice(record, "kind", RELATIONSHIP_KINDS, errors)
