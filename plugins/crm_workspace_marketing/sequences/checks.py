"""Checks of a sequence before it is saved: its trigger and exits, and every step with its settings."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from crm_workspace import CrmError
from crm_workspace.services.templates import TemplateProblem, check

if TYPE_CHECKING:
    from crm_workspace import Workspace

TRIGGERS = ("enters_segment", "lifecycle_stage", "form_submitted", "tag_added")
EXITS = ("replied", "became_customer", "unsubscribed")
STEP_KINDS = ("wait", "email", "task", "set_field", "set_stage", "branch")
STATUSES = ("active", "paused")
#: Contact columns a ``set_field`` step may not touch (consent has its own rules, ids are not data).
LOCKED_FIELDS = {"id", "marketing_consent", "consent_at", "consent_source", "version", "created_at", "updated_at"}


def _json(value: Any, default: Any) -> Any:
    if value in (None, ""):
        return default
    return json.loads(value) if isinstance(value, str) else value


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# -------------------------------------------------------------- validation
def validate_sequence(workspace: Workspace, record: dict, before: dict | None) -> dict[str, str]:
    row = {**(before or {}), **record}
    errors: dict[str, str] = {}
    if not str(row.get("name") or "").strip():
        errors["name"] = "a sequence needs a name"
    kind = row.get("trigger_kind")
    if kind not in TRIGGERS:
        errors["trigger_kind"] = f"the trigger is one of {', '.join(TRIGGERS)}, not {kind!r}"
    if row.get("status", "active") not in STATUSES:
        errors["status"] = f"the status is active or paused, not {row.get('status')!r}"
    try:
        args = _json(row.get("trigger_args"), {})
        if not isinstance(args, dict):
            raise ValueError
    except ValueError:
        errors["trigger_args"] = "the trigger's settings are a JSON object"
        args = {}
    if kind == "lifecycle_stage" and args.get("stage") not in workspace.lifecycle_stages():
        errors["trigger_args"] = f"stage {args.get('stage')!r} is not a lifecycle stage"
    if kind == "tag_added" and not str(args.get("tag") or "").strip():
        errors["trigger_args"] = "name the tag that starts the sequence"
    if kind == "enters_segment" and not workspace.store.scalar(
        "SELECT 1 FROM segments WHERE id = ? OR name = ? COLLATE NOCASE", [args.get("segment"), args.get("segment")]
    ):
        errors["trigger_args"] = f"there is no segment {args.get('segment')!r}"
    try:
        exits = _json(row.get("exit_on"), [])
        bad = [
            e
            for e in exits
            if e not in EXITS and not (str(e).startswith("stage:") and e[6:] in workspace.lifecycle_stages())
        ]
        if bad:
            errors["exit_on"] = f"unknown exit condition(s): {', '.join(map(str, bad))}"
    except (ValueError, TypeError):
        errors["exit_on"] = "the exit conditions are a JSON list"
    return errors


def check_steps(workspace: Workspace, steps: list[dict[str, Any]]) -> None:
    """``CrmError`` naming the first bad step (positions count from 0)."""
    columns = workspace.store.columns("contacts")
    for i, step in enumerate(steps):
        kind, a = step.get("kind"), step.get("args") or {}
        where = f"step {i} ({kind})"
        if kind not in STEP_KINDS:
            raise CrmError(f"{where}: a step is one of {', '.join(STEP_KINDS)}")
        if kind == "wait":
            try:
                total = float(a.get("days") or 0) * 24 + float(a.get("hours") or 0)
            except (TypeError, ValueError):
                raise CrmError(f"{where}: days and hours are numbers") from None
            if total <= 0:
                raise CrmError(f"{where}: wait at least an hour")
        elif kind == "email":
            if not str(a.get("subject") or "").strip() or not (a.get("html") or a.get("text")):
                raise CrmError(f"{where}: an e-mail needs a subject and an HTML or text body")
            for part in ("subject", "html", "text"):
                check_template(a.get(part) or "", f"{where} {part}")
        elif kind == "task" and not str(a.get("title") or "").strip():
            raise CrmError(f"{where}: a task needs a title")
        elif kind == "set_field" and (a.get("field") not in columns or a.get("field") in LOCKED_FIELDS):
            raise CrmError(f"{where}: {a.get('field')!r} is not a contact field a step may set")
        elif kind == "set_stage" and a.get("stage") not in workspace.lifecycle_stages():
            raise CrmError(f"{where}: {a.get('stage')!r} is not a lifecycle stage")
        then = a.get("then")
        if then is not None and not (isinstance(then, int) and 0 <= then <= len(steps)):
            raise CrmError(f"{where}: 'then' is a step number from 0 to {len(steps)} (the end)")
        if kind == "branch":
            if a.get("on", "opened") not in ("opened", "clicked"):
                raise CrmError(f"{where}: branch on opened or clicked")
            for target in ("yes", "no"):
                value = a.get(target)
                if value is not None and not (isinstance(value, int) and 0 <= value <= len(steps)):
                    raise CrmError(f"{where}: '{target}' is a step number from 0 to {len(steps)} (the end)")


def check_template(source: str, where: str) -> None:
    try:
        check(source)
    except TemplateProblem as problem:
        raise CrmError(f"{where}: {problem}") from None
