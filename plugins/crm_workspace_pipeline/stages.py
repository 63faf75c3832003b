"""A pipeline's stages: what a stage implies for a deal (validation), and the stage settings.

Functions over the workspace, like the lifecycle plugin's rules: the store's validation
hook calls ``validate_deal``; the model and the stage settings view call the rest.
"""

from __future__ import annotations

import contextlib
from typing import Any

from crm_workspace import Workspace
from crm_workspace.data.store import utcnow
from crm_workspace.errors import NotFound, ValidationError

from .schema import DEAL_STATUSES, LOST_REASONS
from .values import blank, today_iso

#: what a stage setting may change
STAGE_SETTINGS = ("label", "position", "probability", "status", "rot_days")


def stages_of(workspace: Workspace, pipeline: str) -> list[dict[str, Any]]:
    """The stages of ``pipeline`` in board order."""
    return workspace.store.query(
        "SELECT id, pipeline, stage, label, position, probability, status, rot_days"
        " FROM pipeline_stages WHERE pipeline = ? ORDER BY position, id",
        [pipeline],
    )


def pipelines(workspace: Workspace) -> list[str]:
    """Every pipeline's name."""
    return [r["pipeline"] for r in workspace.store.query("SELECT DISTINCT pipeline FROM pipeline_stages ORDER BY 1")]


# ---------------------------------------------------------------- validation
def validate_deal(workspace: Workspace, record: dict, before: dict | None) -> dict[str, str] | None:
    """Unknown pipeline/stage checks, and the fields a stage implies (status, probability, times)."""
    errors: dict[str, str] = {}
    if before is not None and "stage" not in record and "pipeline" not in record:
        if record.get("status") == "lost" and before.get("status") != "lost":
            _need_reason(record, errors)
        return errors or None
    old = before or {}
    pipeline = record.get("pipeline") or old.get("pipeline") or "default"
    if before is None:
        record["pipeline"] = pipeline
    stages = {s["stage"]: s for s in stages_of(workspace, pipeline)}
    if not stages:
        return {"pipeline": f"unknown pipeline {pipeline!r}"}
    name = record.get("stage", old.get("stage"))
    if blank(name):
        if before is not None:
            return {"stage": "is required"}
        name = record["stage"] = next(iter(stages))
    if name not in stages:
        return {"stage": f"unknown stage {name!r} in pipeline {pipeline!r} (stages: {', '.join(stages)})"}
    stage = stages[name]
    status = stage["status"]
    if before is None:  # a new deal: fill what its stage implies, keep what was given
        record.setdefault("stage_changed_at", record.get("created_at") or utcnow())
        if blank(record.get("status")):
            record["status"] = status
        if blank(record.get("probability")):
            record["probability"] = stage["probability"]
        elif "probability_manual" not in record:
            with contextlib.suppress(TypeError, ValueError):  # core validation reports a bad number
                record["probability_manual"] = int(float(record["probability"]) != float(stage["probability"]))
        if record["status"] != "open" and blank(record.get("closed_at")):
            record["closed_at"] = today_iso()
        return None
    if name == before.get("stage"):
        return None
    record["stage_changed_at"] = utcnow()
    record["status"] = status
    manual = record.get("probability_manual", before.get("probability_manual")) or 0
    if status != "open" or not ("probability" in record or manual):
        record["probability"] = stage["probability"]
    if status == "open":
        record["closed_at"] = None
        record["lost_reason"] = None
    else:
        if blank(record.get("closed_at")):
            record["closed_at"] = today_iso()
        if status == "won":
            record["lost_reason"] = None
        else:
            _need_reason(record, errors)
    return errors or None


def _need_reason(record: dict, errors: dict) -> None:
    if blank(record.get("lost_reason")):
        errors["lost_reason"] = f"a lost deal needs a reason (one of: {', '.join(LOST_REASONS)}, or your own words)"


# ------------------------------------------------------------ stage settings
def save_stage(workspace: Workspace, pipeline: str, stage: str, **fields: Any) -> dict[str, Any]:
    """Change a stage's label, position, default probability, status or rot limit (days)."""
    unknown = set(fields) - set(STAGE_SETTINGS)
    if unknown:
        raise ValidationError("pipeline_stages", {k: "not a stage setting" for k in unknown})
    _check_stage_fields(fields)
    row = next((s for s in stages_of(workspace, pipeline) if s["stage"] == stage), None)
    if row is None:
        raise ValidationError("deals", {"stage": f"unknown stage {stage!r} in pipeline {pipeline!r}"})
    return workspace.store.update("pipeline_stages", row["id"], fields)


def add_stage(workspace: Workspace, pipeline: str, stage: str, **fields: Any) -> dict[str, Any]:
    """Add a stage to ``pipeline`` (at the end unless ``position`` is given)."""
    if blank(stage):
        raise ValidationError("pipeline_stages", {"stage": "is required"})
    existing = stages_of(workspace, pipeline)
    if any(s["stage"] == stage for s in existing):
        raise ValidationError("pipeline_stages", {"stage": f"{stage!r} already exists in {pipeline!r}"})
    _check_stage_fields(fields)
    position = fields.pop("position", None)
    if position is None:
        position = 1 + max((s["position"] for s in existing), default=-1)
    return workspace.store.insert(
        "pipeline_stages", {"pipeline": pipeline, "stage": stage.strip(), "position": position, **fields}
    )


def add_pipeline(workspace: Workspace, name: str, copy_from: str = "default") -> None:
    """A new pipeline, starting with a copy of ``copy_from``'s stages."""
    if blank(name):
        raise ValidationError("pipeline_stages", {"pipeline": "is required"})
    if name in pipelines(workspace):
        raise ValidationError("pipeline_stages", {"pipeline": f"{name!r} already exists"})
    source = stages_of(workspace, copy_from)
    if not source:
        raise NotFound(f"no pipeline named {copy_from!r}")
    workspace.store.insert_many(
        "pipeline_stages", [{k: s[k] for k in s if k != "id"} | {"pipeline": name} for s in source]
    )


def _check_stage_fields(fields: dict[str, Any]) -> None:
    errors = {}
    if "status" in fields and fields["status"] not in DEAL_STATUSES:
        errors["status"] = f"must be one of {', '.join(DEAL_STATUSES)}"
    if "probability" in fields:
        try:
            value = float(fields["probability"])
            if not 0 <= value <= 100:
                errors["probability"] = "must be from 0 to 100"
            fields["probability"] = value
        except (TypeError, ValueError):
            errors["probability"] = f"must be a number, not {fields['probability']!r}"
    if fields.get("rot_days") is not None:
        try:
            fields["rot_days"] = int(fields["rot_days"])
            if fields["rot_days"] < 1:
                errors["rot_days"] = "must be at least 1 day (or empty for never)"
        except (TypeError, ValueError):
            errors["rot_days"] = f"must be a whole number of days, not {fields['rot_days']!r}"
    if errors:
        raise ValidationError("pipeline_stages", errors)
