"""Training the lead-score model on the workspace's own history (which leads became customers).

The sample: every contact that has been on the lifecycle (a stage, or a stage history).
A positive is a contact that reached a won stage (setting ``scoring_won_stages``, by
default customer, advocate and churned: a churned contact was a customer); its features
are taken as of the first time it did, everyone else's as of now. A logistic regression
over standardised features (scikit-learn) is evaluated on a stratified hold-out quarter
(ROC AUC), then fitted on the whole sample and stored as JSON numbers in ``score_models``:
scoring is an SQL dot product, and nothing stored is ever unpickled.
"""

from __future__ import annotations

import json
import time

from crm_workspace.data.store import utcnow
from crm_workspace.errors import CrmError

from . import features

MIN_POSITIVES = 50
MIN_NEGATIVES = 50
DEFAULT_WON_STAGES = ("customer", "advocate", "churned")


class NotEnoughHistory(CrmError):
    """Too few leads that became (or did not become) customers to learn from."""


def won_stages(workspace) -> list[str]:
    stages = workspace.setting("scoring_won_stages", None) or list(DEFAULT_WON_STAGES)
    return [s for s in stages if s in workspace.lifecycle_stages()] or list(DEFAULT_WON_STAGES)


def sample_sql(workspace, now: str) -> tuple[str, list]:
    """``SELECT id, cutoff, label`` of the training sample (see the module's docstring)."""
    won = won_stages(workspace)
    marks = ", ".join("?" * len(won))
    sql = (
        "SELECT c.id AS id, CASE WHEN w.at IS NOT NULL THEN min(w.at, ?)"
        f" WHEN c.lifecycle_stage IN ({marks}) THEN coalesce(c.updated_at, ?) ELSE ? END AS cutoff,"
        f" (w.at IS NOT NULL OR c.lifecycle_stage IN ({marks})) AS label"
        " FROM contacts c"
        f" LEFT JOIN (SELECT contact_id, min(at) AS at FROM lifecycle_events WHERE to_stage IN ({marks})"
        " GROUP BY contact_id) w ON w.contact_id = c.id"
        " WHERE c.lifecycle_stage IS NOT NULL OR w.at IS NOT NULL"
        " OR EXISTS (SELECT 1 FROM lifecycle_events e WHERE e.contact_id = c.id)"
    )
    return sql, [now, *won, now, now, *won, *won]


def train(workspace, *, now: str | None = None, min_positives: int = MIN_POSITIVES, seed: int = 0) -> dict:
    """Train, store and apply a new model version; returns its row (with ``seconds`` taken).

    Raises ``NotEnoughHistory`` (nothing stored) when the sample has fewer than
    ``min_positives`` customers or ``MIN_NEGATIVES`` others.
    """
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    started = time.perf_counter()
    store = workspace.store
    now = now or utcnow()
    sample, sample_params = sample_sql(workspace, now)
    counts = store.query(f"SELECT count(*) AS n, coalesce(sum(label), 0) AS pos FROM ({sample})", sample_params)[0]
    positives, negatives = int(counts["pos"]), int(counts["n"] - counts["pos"])
    if positives < min_positives or negatives < MIN_NEGATIVES:
        raise NotEnoughHistory(
            f"not enough history to train a lead-score model: {positives:,} contacts became customers and "
            f"{negatives:,} did not (at least {min_positives} and {MIN_NEGATIVES} are needed). "
            "Rule points work without a model; train again when more leads have converted."
        )
    chosen = features.candidates(store, int(counts["n"]))
    sql, params = features.frame_sql(store, chosen, f"SELECT id, cutoff FROM ({sample})", sample_params, now)
    frame = pd.read_sql_query(sql, store.conn, params=params)
    labels = pd.read_sql_query(f"SELECT id, label FROM ({sample})", store.conn, params=sample_params)
    frame = frame.merge(labels, on="id")
    x = frame[[f"f{i}" for i in range(len(chosen))]].to_numpy(dtype=float)
    y = frame["label"].to_numpy(dtype=int)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    keep = scale > 1e-9  # a constant feature says nothing
    x, mean, scale = x[:, keep], mean[keep], scale[keep]
    chosen = [f for f, k in zip(chosen, keep, strict=True) if k]
    z = (x - mean) / scale
    x_train, x_test, y_train, y_test = train_test_split(z, y, test_size=0.25, stratify=y, random_state=seed)
    holdout = LogisticRegression(C=0.5, max_iter=1000).fit(x_train, y_train)
    auc = float(roc_auc_score(y_test, holdout.predict_proba(x_test)[:, 1]))
    final = LogisticRegression(C=0.5, max_iter=1000).fit(z, y)
    stored = [
        {**f, "mean": float(m), "scale": float(s), "coef": float(c)}
        for f, m, s, c in zip(chosen, mean, scale, final.coef_[0], strict=True)
    ]
    params_json = {"intercept": float(final.intercept_[0]), "features": stored, "won_stages": won_stages(workspace)}
    features.check_params(params_json)
    version = (store.scalar("SELECT max(version) FROM score_models") or 0) + 1
    row = {
        "id": version,
        "trained_at": now,
        "trained_by": workspace.user,
        "algorithm": "logistic_regression",
        "features": json.dumps([f["name"] for f in stored]),
        "params": json.dumps(params_json),
        "sample_size": len(y),
        "positives": int(y.sum()),
        "holdout_size": len(y_test),
        "auc": round(auc, 4),
    }
    with store.transaction():
        store.insert("score_models", row)  # audited; crm_record_changed rescores every contact with it
    return {**row, "version": version, "seconds": round(time.perf_counter() - started, 3)}


def model_line(model: dict | None, score: float | None = None) -> str:
    """``72 (model v3, trained 2026-11-30 on 4,210 contacts, AUC 0.81)``; without a model, how to get one."""
    if model is None:
        return "no model yet: train one on the Lead scores page or with `crm scoring train`"
    shown = "—" if score is None else f"{score:.0f}"
    return (
        f"{shown} (model v{model['version']}, trained {str(model['trained_at'])[:10]} "
        f"on {int(model['sample_size']):,} contacts, AUC {float(model['auc']):.2f})"
    )


def top_features(model: dict | None, n: int = 8) -> list[dict]:
    """The model's strongest features by |coefficient| (per standard deviation of the feature)."""
    if not model:
        return []
    items = (
        model["params"]["features"] if isinstance(model["params"], dict) else json.loads(model["params"])["features"]
    )
    ranked = sorted(items, key=lambda f: -abs(f["coef"]))[:n]
    return [
        {"feature": f["name"], "weight": round(f["coef"], 3), "direction": "+" if f["coef"] > 0 else "−"}
        for f in ranked
    ]
