"""The scoring data views (``ws.df("scoring.…")``) and KPI cards: what the pages show, as DataFrames."""

from __future__ import annotations

import json

import pandas as pd

from crm_workspace import Metric
from crm_workspace.errors import NotFound

from . import conditions, engine, learn

HOT_POINTS = 20


def hot_points(workspace) -> float:
    return float(workspace.setting("scoring_hot_points", HOT_POINTS) or HOT_POINTS)


def lead_stages(workspace) -> list[str]:
    """The stages before a contact is won: where leads are."""
    stages = workspace.lifecycle_stages()
    won = learn.won_stages(workspace)
    first = min((stages.index(s) for s in won if s in stages), default=len(stages))
    return stages[:first]


def scores(workspace, limit=50, offset=0, min_points=None, stage=None, order="rule_points"):
    """Contacts by score (``order``: rule_points or model_score), with both scores and when they were computed."""
    if order not in ("rule_points", "model_score"):
        raise conditions.BadCondition(f"order by rule_points or model_score, not {order!r}")
    where, params = ["1"], {}
    if min_points is not None:
        where.append("s.rule_points >= :min_points")
        params["min_points"] = float(min_points)
    if stage:
        where.append("c.lifecycle_stage = :stage")
        params["stage"] = stage
    params.update(limit=-1 if limit is None else int(limit), offset=int(offset or 0))
    return workspace.df(
        "SELECT s.contact_id, trim(coalesce(c.first_name, '') || ' ' || coalesce(c.last_name, '')) AS name,"
        " c.title, c.lifecycle_stage, c.owner, s.rule_points, s.model_score, s.model_version, s.updated_at"
        f" FROM lead_scores s JOIN contacts c ON c.id = s.contact_id WHERE {' AND '.join(where)}"
        f" ORDER BY s.{order} DESC NULLS LAST, s.contact_id LIMIT :limit OFFSET :offset",
        **params,
    )


def breakdown(workspace, contact_id):
    """One contact's rule points, rule by rule (they sum to ``lead_scores.rule_points``), computed on demand."""
    parts = engine.breakdown(workspace, int(contact_id))
    rules = {r["id"]: r for r in workspace.query("SELECT id, name, kind, condition FROM score_rules")}
    frame = pd.DataFrame(
        [
            {
                "rule_id": p["rule_id"],
                "rule": rules[p["rule_id"]]["name"],
                "kind": rules[p["rule_id"]]["kind"],
                "condition": conditions.describe(rules[p["rule_id"]]["kind"], rules[p["rule_id"]]["condition"]),
                "points": p["points"],
            }
            for p in parts
        ],
        columns=["rule_id", "rule", "kind", "condition", "points"],
    )
    return frame.reindex(frame["points"].abs().sort_values(ascending=False, kind="stable").index).reset_index(drop=True)


def model(workspace, version=None):
    """The model card of every version (newest first), or of one ``version``."""
    where = "WHERE version = :version" if version is not None else ""
    return workspace.df(
        "SELECT version, trained_at, trained_by, algorithm, sample_size, positives, holdout_size, auc,"
        f" json_array_length(features) AS features FROM score_models {where} ORDER BY version DESC",
        **({"version": int(version)} if version is not None else {}),
    )


def coefficients(workspace, version=None):
    """The model's features with mean, scale and coefficient (per standard deviation), strongest first."""
    row = engine.active_model(workspace.store) if version is None else None
    if version is not None:
        rows = workspace.query("SELECT * FROM score_models WHERE version = ?", [int(version)])
        row = {**rows[0], "params": json.loads(rows[0]["params"])} if rows else None
    items = row["params"]["features"] if row else []
    frame = pd.DataFrame(
        [
            {"feature": f["name"], "kind": f["kind"], "coef": f["coef"], "mean": f["mean"], "scale": f["scale"]}
            for f in items
        ],
        columns=["feature", "kind", "coef", "mean", "scale"],
    )
    return frame.reindex(frame["coef"].abs().sort_values(ascending=False).index).reset_index(drop=True)


def rules(workspace):
    """Every rule with what it reads like, and how many contacts it gave points to at the last full rescore."""
    frame = workspace.df(
        "SELECT r.id, r.name, r.kind, r.condition, r.points, r.cap, r.half_life_days, r.enabled, r.description,"
        " r.version, s.contacts, s.points AS points_given FROM score_rules r"
        " LEFT JOIN score_rule_stats s ON s.rule_id = r.id ORDER BY r.kind DESC, r.id"
    )
    frame.insert(
        3, "reads", [conditions.describe(k, c) for k, c in zip(frame["kind"], frame["condition"], strict=True)]
    )
    return frame


def distribution(workspace, width=10):
    """How many contacts have how many rule points, in buckets of ``width`` points."""
    width = max(1, int(width))
    return workspace.df(
        "SELECT CAST(floor(rule_points / :width) * :width AS INTEGER) AS points_from, count(*) AS contacts,"
        " round(avg(model_score), 1) AS avg_model_score FROM lead_scores GROUP BY 1 ORDER BY 1",
        width=width,
    )


def hot_leads_sql(workspace) -> str:
    stages = ", ".join("'" + s.replace("'", "''") + "'" for s in lead_stages(workspace)) or "NULL"
    return (
        "SELECT count(*) FROM lead_scores s JOIN contacts c ON c.id = s.contact_id"
        f" WHERE c.lifecycle_stage IN ({stages}) AND s.rule_points >= {hot_points(workspace):g}"
    )


def kpis(workspace) -> list[Metric]:
    sql = hot_leads_sql(workspace)
    auc_sql = "SELECT auc FROM score_models ORDER BY version DESC LIMIT 1"
    return [
        Metric(
            "hot_leads",
            "Hot leads",
            workspace.store.scalar(sql) or 0,
            sql=sql,
            help=f"Leads with {hot_points(workspace):g}+ rule points",
            page="scoring",
        ),
        Metric(
            "lead_model_auc",
            "Lead model AUC",
            workspace.store.scalar(auc_sql),
            sql=auc_sql,
            help="Hold-out AUC of the newest lead-score model (0.5 = guessing, 1 = perfect)",
            fmt="{:.2f}",
            page="scoring",
        ),
    ]


def contact_report(ws, ref: str) -> dict:
    """Everything ``show`` prints about one contact (by id or e-mail address)."""
    rows = ws.query(
        "SELECT id, first_name, last_name, email, lifecycle_stage FROM contacts WHERE id = ? OR lower(email) = lower(?)",
        [int(ref) if str(ref).isdigit() else -1, str(ref)],
    )
    if not rows:
        raise NotFound(f"no contact {ref!r} (give its id or e-mail address)")
    contact = rows[0]
    scores = ws.query("SELECT * FROM lead_scores WHERE contact_id = ?", [contact["id"]])
    score = scores[0] if scores else {}
    model = engine.active_model(ws.store)
    if model and score.get("model_version") not in (None, model["version"]):
        rows = ws.query("SELECT * FROM score_models WHERE version = ?", [score["model_version"]])
        model = {**rows[0], "params": json.loads(rows[0]["params"])} if rows else model
    parts = breakdown(ws, contact["id"])
    return {
        "contact_id": contact["id"],
        "name": f"{contact['first_name'] or ''} {contact['last_name'] or ''}".strip(),
        "lifecycle_stage": contact["lifecycle_stage"],
        "rule_points": score.get("rule_points"),
        # the stored score holds from its last change, and every rescore since found it the same
        "scored_at": max((t for t in (score.get("updated_at"), engine.last_run(ws.store)) if t), default=None)
        if score
        else None,
        "breakdown": parts[["rule", "kind", "condition", "points"]].to_dict("records"),
        "model_score": score.get("model_score"),
        "model": None
        if not model
        else {
            "version": model["version"],
            "trained_at": model["trained_at"],
            "sample_size": model["sample_size"],
            "auc": model["auc"],
        },
        "model_line": learn.model_line(model, score.get("model_score")),
    }


def data_views(workspace) -> dict:
    def bind(fn):
        def view(**filters):
            return fn(workspace, **filters)

        view.__doc__ = fn.__doc__
        return view

    return {
        "scoring.scores": bind(scores),
        "scoring.breakdown": bind(breakdown),
        "scoring.model": bind(model),
        "scoring.coefficients": bind(coefficients),
        "scoring.rules": bind(rules),
        "scoring.distribution": bind(distribution),
    }
