"""The lead-score model: trained on the workspace's history, stored as JSON, applied in SQL; its section and CLI."""

from __future__ import annotations

import json
import random

import pytest
from click.testing import CliRunner
from crm_workspace_scoring import learn

from crm_workspace.testing import assert_no_plugin_errors, page_text


def history(ws, n=400, seed=1):
    """Leads whose titles predict who became a customer: directors mostly did, analysts mostly did not."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        director = rng.random() < 0.5
        won = rng.random() < (0.7 if director else 0.15)
        rows.append(
            {
                "first_name": f"P{i}",
                "title": "Sales Director" if director else "Data Analyst",
                "lifecycle_stage": "customer" if won else "lead",
                "source": rng.choice(["website", "referral"]),
            }
        )
    ws.store.insert_many("contacts", rows)


def test_training_on_history_stores_a_json_model_that_scores_in_sql(workspace):
    ws = workspace
    history(ws)
    row = learn.train(ws)
    assert row["auc"] > 0.5 and row["version"] == 1 and row["sample_size"] == 400
    stored = ws.query("SELECT * FROM score_models")[0]
    params = json.loads(stored["params"])  # plain JSON numbers: nothing to unpickle
    assert stored["version"] == 1 and stored["algorithm"] == "logistic_regression"
    assert all(isinstance(f["coef"], float) for f in params["features"])
    assert "title~director" in json.loads(stored["features"])
    # every contact got a model score from the stored numbers, directors above analysts
    by_title = {
        r["title"]: r["score"]
        for r in ws.query(
            "SELECT c.title, avg(s.model_score) AS score FROM lead_scores s JOIN contacts c ON c.id = s.contact_id"
            " GROUP BY c.title"
        )
    }
    assert by_title["Sales Director"] > by_title["Data Analyst"]
    # a contact added after training is scored by the model at once
    new = ws.store.insert("contacts", {"first_name": "New", "title": "Director of Sales", "lifecycle_stage": "lead"})
    scored = ws.query("SELECT * FROM lead_scores WHERE contact_id = ?", [new["id"]])[0]
    assert scored["model_version"] == 1 and scored["model_score"] > by_title["Data Analyst"]
    assert ws.df("scoring.model").iloc[0]["auc"] == row["auc"]
    assert len(ws.df("scoring.coefficients")) == len(params["features"])
    assert_no_plugin_errors(ws)


def test_too_little_history_is_a_clear_message_and_no_model(workspace):
    ws = workspace
    history(ws, n=60)
    with pytest.raises(learn.NotEnoughHistory, match=r"at least 50 .* are needed"):
        learn.train(ws)
    assert ws.store.scalar("SELECT count(*) FROM score_models") == 0
    from crm_workspace.cli import cli

    result = CliRunner().invoke(cli, ["--db", ws.path, "scoring", "train"])
    assert result.exit_code != 0 and "not enough history" in result.output
    assert "Traceback" not in result.output


def test_a_tampered_model_row_cannot_run_sql(workspace):
    """Someone with write access to the file plants a feature that is SQL: scoring refuses it, nothing runs."""
    from crm_workspace_scoring import engine, features

    ws = workspace
    history(ws, n=300)
    learn.train(ws)
    model = engine.active_model(ws.store)
    planted = {**model["params"], "features": [{"name": "x", "kind": "sql", "value": "1); DROP TABLE contacts; --"}]}
    with pytest.raises(Exception, match="unknown kind of feature"):
        features.check_params(planted)
    planted = {**model["params"], "intercept": "1) OR (1"}
    with pytest.raises(Exception, match="not a finite number"):
        features.check_params(planted)


def test_the_contact_section_and_cli_show_both_scores_and_the_model_line(demo_workspace):
    ws = demo_workspace
    model = ws.query("SELECT * FROM score_models ORDER BY version DESC LIMIT 1")[0]
    assert model["positives"] >= 50  # the demo's history is enough to train on
    contact_id = ws.df("scoring.scores", limit=1).iloc[0]["contact_id"]
    section = next(s for s in ws.record_sections("contacts", int(contact_id)) if s.key == "scoring.lead-score")
    text = page_text(section.view())
    score = ws.query("SELECT * FROM lead_scores WHERE contact_id = ?", [int(contact_id)])[0]
    assert f"Rule points: {score['rule_points']:g}" in text
    line = (
        f"{score['model_score']:.0f} (model v{model['version']}, trained {model['trained_at'][:10]} "
        f"on {model['sample_size']:,} contacts, AUC {model['auc']:.2f})"
    )
    assert line in text
    for name in ws.df("scoring.breakdown", contact_id=int(contact_id))["rule"]:
        assert name in text

    from crm_workspace.cli import cli

    result = CliRunner().invoke(cli, ["--db", ws.path, "scoring", "show", str(contact_id), "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["rule_points"] == score["rule_points"] and shown["model_line"] == line
    assert sum(p["points"] for p in shown["breakdown"]) == pytest.approx(score["rule_points"], abs=0.02)
    missing = CliRunner().invoke(cli, ["--db", ws.path, "scoring", "show", "nobody@example.com"])
    assert missing.exit_code != 0 and "no contact" in missing.output


def test_the_page_shows_the_model_card_and_is_read_only_for_viewers(demo_db):
    from crm_workspace.testing import make_workspace

    ws = make_workspace(demo_db, user="ana")
    text = page_text(ws.dashboard("scoring"))
    assert "Model v1" in text and "Hold-out AUC" in text and "Senior title" in text
    import re

    shown = re.sub(r"<[^>]*>", " ", text)  # what a person reads (hover titles aside)
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", shown), "a raw ISO time is shown"
    assert "rescored" in shown and ("ago" in shown or "just now" in shown)
    assert not re.search(r"\b\w+[~=]\w", shown), "a raw feature name (title~head, country=es) is shown"
    assert "has the word" in shown or " is " in shown or " a month" in shown  # the strongest features, said
    metric = next(m for m in ws.metrics() if m.key == "hot_leads")
    assert ws.df(metric.sql).iloc[0, 0] == metric.value
    viewer = make_workspace(demo_db, user="eve")
    page = viewer.dashboard("scoring")
    import panel as pn

    buttons = [w for w in page.select(pn.widgets.Button) if w.label in ("Retrain model", "Save rule")]
    assert buttons and all(b.disabled for b in buttons)


def test_crm_marketing_train_score_is_the_same_command_when_the_marketing_group_exists():
    import click
    from crm_workspace_scoring.commands import register

    root = click.Group("crm")
    marketing = click.Group("marketing")
    root.add_command(marketing)
    register(root)
    assert marketing.commands["train-score"] is root.commands["scoring"].commands["train"]
    alone = click.Group("crm")  # no marketing plugin: no marketing group is made
    register(alone)
    assert "marketing" not in alone.commands and "train" in alone.commands["scoring"].commands


def test_the_demos_numpy_fit_is_scikit_learns_model():
    """The demo fits without importing scikit-learn; the objective is convex, so the model is the same."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(3)
    z = rng.normal(size=(400, 6))
    y = (z @ np.array([1.5, -1.0, 0.5, 0.0, 0.0, 2.0]) + rng.normal(size=400) > 0).astype(int)
    ours_b, ours_w = learn.newton_fit(z, y)
    theirs = LogisticRegression(C=learn.C, max_iter=1000, tol=1e-10).fit(z, y)
    assert np.allclose(ours_w, theirs.coef_[0], atol=1e-4) and abs(ours_b - theirs.intercept_[0]) < 1e-4
    scores = np.round(z[:, 0], 1)  # with ties
    assert learn.rank_auc(y, scores) == pytest.approx(roc_auc_score(y, scores))


def test_scoring_in_index_order_gives_the_per_contact_scores(demo_workspace):
    """A rescore counts activities, e-mail events and organization sizes per scope (index order, once per
    organization); the training path counts them per contact. Both give every contact the same score."""
    from crm_workspace_scoring import engine, features

    ws = demo_workspace
    store = ws.store
    model = engine.active_model(store)
    names = {f["name"] for f in model["params"]["features"]}
    assert {"org_size", "email_opens_per_month", "activities_last_30d"} <= names  # what the scope counts
    now = engine.last_run(store)
    base = "SELECT c.id AS id, ? AS cutoff FROM contacts c"
    per_contact = dict(store.conn.execute(*features.score_sql(store, model["params"], base, [now], now)).fetchall())
    for scope in (("{} BETWEEN ? AND ?", [1, 10**9]), ("{} IN (SELECT value FROM json_each(?))", ["[1, 2, 3]"])):
        scoped_base = f"{base} WHERE {scope[0].format('c.id')}"
        sql, params = features.score_sql(store, model["params"], scoped_base, [now, *scope[1]], now, scope)
        scoped = dict(store.conn.execute(sql, params).fetchall())
        assert scoped == {k: per_contact[k] for k in scoped} and scoped
    stored = dict(store.conn.execute("SELECT contact_id, model_score FROM lead_scores").fetchall())
    assert stored == {k: v for k, v in per_contact.items() if k in stored}


def test_model_features_are_said_in_words():
    from crm_workspace_scoring.learn import describe_feature, top_features

    assert describe_feature("title~head") == 'title has the word "head"'
    assert (
        describe_feature("country=es") == "country is ES"
        and describe_feature("industry=finance") == "industry is finance"
    )
    assert describe_feature("calls_per_month") == "calls a month"
    assert describe_feature("email_opens_per_month") == "e-mail opens a month"
    top = top_features(
        {"params": {"features": [{"name": "title~vp", "coef": -0.5}, {"name": "org_size", "coef": 1.2}]}}
    )
    assert [(f["feature"], f["name"], f["direction"]) for f in top] == [
        ("contacts at the same organization", "org_size", "+"),
        ('title has the word "vp"', "title~vp", "−"),
    ]


def test_the_rules_table_and_the_leads_order_speak_words_not_columns(demo_db):
    import panel as pn
    from crm_workspace_scoring.views import ScoringPage

    from crm_workspace.testing import make_workspace

    ws = make_workspace(demo_db, user="ana")
    page = ScoringPage(workspace=ws)
    rules = page._rules()
    titles = rules.titles
    assert titles["half_life_days"] == "Half-life (days)" and titles["enabled"] == "Enabled"
    assert titles["name"] == "Name" and titles["contacts"] == "Contacts with points"
    assert set(rules.value["enabled"]) <= {"Yes", "No"}, "enabled shows as 1/0"
    for column, title in titles.items():  # wide enough for the whole title, not "half-…"
        assert rules.widths[column] >= 8 * len(title), column
    toggle = next(w for w in pn.panel(page).select(pn.widgets.RadioButtonGroup))
    assert list(toggle.options) == ["Rule points", "Model score"]
    toggle.value = "model_score"
    assert page.model.order == "model_score"
