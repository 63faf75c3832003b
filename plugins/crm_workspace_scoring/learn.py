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
from crm_workspace.errors import CrmError, PermissionDenied
from crm_workspace.services.privacy import not_erased

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
        " WHERE (c.lifecycle_stage IS NOT NULL OR w.at IS NOT NULL"
        " OR EXISTS (SELECT 1 FROM lifecycle_events e WHERE e.contact_id = c.id))"
        f" AND {not_erased('c.id')}"  # an erased person's history trains nothing
    )
    return sql, [now, *won, now, now, *won, *won]


C = 0.5  # inverse L2 strength, as scikit-learn's LogisticRegression(C=...)


def _sklearn():
    """Hold-out split, fit and AUC with scikit-learn (what ``crm scoring train`` and the page use)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    def split(z, y, seed):
        return train_test_split(z, y, test_size=0.25, stratify=y, random_state=seed)

    def fit(z, y):
        model = LogisticRegression(C=C, max_iter=1000).fit(z, y)
        return float(model.intercept_[0]), model.coef_[0], model.predict_proba

    return split, fit, lambda y, p: float(roc_auc_score(y, p))


def newton_fit(z, y, c: float = C, steps: int = 50):
    """The same L2-penalised logistic regression as scikit-learn's (intercept not penalised), by Newton steps.

    The objective is strictly convex, so both reach the one optimum (the suite checks it).
    The demo uses this to skip importing scikit-learn (~1.5 s of CPU) for 300 contacts.
    """
    import numpy as np

    x = np.hstack([np.ones((len(z), 1)), z])
    theta = np.zeros(x.shape[1])
    penalty = np.eye(x.shape[1])
    penalty[0, 0] = 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ theta, -30, 30)))
        gradient = c * x.T @ (p - y) + penalty @ theta
        hessian = c * (x.T * (p * (1 - p))) @ x + penalty
        step = np.linalg.solve(hessian, gradient)
        theta -= step
        if np.abs(step).max() < 1e-10:
            break
    return float(theta[0]), theta[1:]


def rank_auc(y, scores) -> float:
    """ROC AUC as the Mann-Whitney statistic (ties count half): what ``roc_auc_score`` computes."""
    import pandas as pd

    ranks = pd.Series(scores).rank(method="average").to_numpy()
    pos = int(y.sum())
    neg = len(y) - pos
    return float((ranks[y == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))


def _numpy():
    import numpy as np

    def split(z, y, seed):
        rng = np.random.default_rng(seed)
        test = np.zeros(len(y), dtype=bool)
        for label in (0, 1):
            where = rng.permutation(np.flatnonzero(y == label))
            test[where[: round(len(where) * 0.25)]] = True
        return z[~test], z[test], y[~test], y[test]

    def fit(z, y):
        intercept, coef = newton_fit(z, y)

        def proba(rows):
            p = 1.0 / (1.0 + np.exp(-(rows @ coef + intercept)))
            return np.column_stack([1 - p, p])

        return intercept, coef, proba

    return split, fit, rank_auc


def train(
    workspace, *, now: str | None = None, min_positives: int = MIN_POSITIVES, seed: int = 0, fast: bool = False
) -> dict:
    """Train, store and apply a new model version; returns its row (with ``seconds`` taken).

    Raises ``NotEnoughHistory`` (nothing stored) when the sample has fewer than
    ``min_positives`` customers or ``MIN_NEGATIVES`` others. ``fast`` (the demo) fits
    with ``newton_fit`` instead of importing scikit-learn: the same model.
    """
    import pandas as pd

    if workspace.read_only:  # before minutes of work that could not be stored
        raise PermissionDenied(f"{workspace.user} may not train the lead-score model (read-only)")
    split, fit, auc_of = _numpy() if fast else _sklearn()
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
    x_train, x_test, y_train, y_test = split(z, y, seed)
    _, _, proba = fit(x_train, y_train)
    auc = auc_of(y_test, proba(x_test)[:, 1])
    intercept, coef, _ = fit(z, y)  # the stored model: the whole sample
    stored = [
        {**f, "mean": float(m), "scale": float(s), "coef": float(c)}
        for f, m, s, c in zip(chosen, mean, scale, coef, strict=True)
    ]
    params_json = {"intercept": intercept, "features": stored, "won_stages": won_stages(workspace)}
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
        {
            "feature": describe_feature(f["name"]),
            "weight": round(f["coef"], 3),
            "direction": "+" if f["coef"] > 0 else "−",
            "name": f["name"],
        }
        for f in ranked
    ]


#: how a person says a built-in feature (the others: "title~head", "country=es", "<kind>s_per_month")
FEATURE_WORDS = {
    "days_since_created": "days since the contact was created",
    "has_email": "has an e-mail address",
    "has_phone": "has a phone number",
    "has_title": "has a job title",
    "org_size": "contacts at the same organization",
    "activities_last_30d": "activities in the last 30 days",
    "email_opens_per_month": "e-mail opens a month",
    "email_clicks_per_month": "e-mail clicks a month",
}


def describe_feature(name: str) -> str:
    """A model feature as people read it: "title~head" -> 'title has the word "head"',
    "country=es" -> "country is ES", "calls_per_month" -> "calls a month"."""
    if name in FEATURE_WORDS:
        return FEATURE_WORDS[name]
    if "~" in name:
        column, _, word = name.partition("~")
        return f'{column} has the word "{word}"'
    if "=" in name:
        column, _, value = name.partition("=")
        return f"{column} is {value.upper() if column == 'country' else value}"
    if name.endswith("_per_month"):
        return f"{name.removesuffix('_per_month').replace('_', ' ')} a month"
    return name.replace("_", " ")
