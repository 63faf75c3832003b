"""Validation of deals: what a stage implies (``model.validate_deal``), then each field's form."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crm_workspace.data import checks

from .schema import DEAL_STATUSES
from .stages import validate_deal

if TYPE_CHECKING:
    from crm_workspace import Workspace


def validate(workspace: Workspace, record: dict, before: dict | None) -> dict[str, str] | None:
    """The stage's checks first (their message wins for a field), then title, amounts, status and dates."""
    errors = validate_deal(workspace, record, before) or {}
    for field, message in check_fields(record, before).items():
        errors.setdefault(field, message)
    return errors or None


def check_fields(record: dict, before: dict | None) -> dict[str, str]:
    """Each field's form, whatever the stage: a title, amounts in range, a known status, dates."""
    errors: dict[str, str] = {}
    checks.strip_text(record)
    checks.required(record, before, "title", errors)
    checks.max_length(record, errors)
    checks.number(record, "amount", errors, low=0)
    checks.number(record, "probability", errors, low=0, high=100)
    checks.choice(record, "status", DEAL_STATUSES, errors)
    checks.date(record, "expected_close", errors)
    checks.date(record, "closed_at", errors)
    return errors
