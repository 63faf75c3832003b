"""Lead scores: rule points with decay and caps, breakdowns, incremental rescoring, machine events, rules."""

from __future__ import annotations

import json

import pytest
from crm_workspace_scoring import engine, rules

from crm_workspace.errors import PermissionDenied, ValidationError
from crm_workspace.testing import assert_no_plugin_errors, make_workspace

CLOCK = "2026-06-01T12:00:00Z"


def points(ws, contact_id):
    return ws.store.scalar("SELECT rule_points FROM lead_scores WHERE contact_id = ?", [contact_id])


def rule(ws, name, kind, condition, pts, **extra):
    return ws.store.insert(
        "score_rules", {"name": name, "kind": kind, "condition": json.dumps(condition), "points": pts, **extra}
    )


def test_fit_and_engagement_points_decay_with_time_and_stop_at_the_cap(workspace):
    ws = workspace
    org = ws.store.insert("organizations", {"name": "Acme", "industry": "Software"})
    ana = ws.store.insert("contacts", {"first_name": "Ana", "title": "IT Director", "organization_id": org["id"]})
    ben = ws.store.insert("contacts", {"first_name": "Ben", "title": "Analyst"})
    rule(ws, "Director", "fit", {"field": "title", "op": "contains", "value": "director"}, 10)
    rule(ws, "Software", "fit", {"field": "organization.industry", "op": "in", "value": ["software"]}, 5)
    rule(
        ws,
        "Emails",
        "engagement",
        {"count": "activities", "kind": "email", "within_days": 30},
        4,
        cap=6,
        half_life_days=10,
    )
    for contact, day in ((ana, "2026-05-22T12:00:00Z"), (ben, "2026-05-22T12:00:00Z"), (ben, "2026-04-01T00:00:00Z")):
        ws.store.insert("activities", {"kind": "email", "contact_id": contact["id"], "occurred_at": day})

    engine.rescore(ws, now=CLOCK)
    # Ana: 10 (title) + 5 (industry) + 4 * 0.5 (one email, one half-life old)
    assert points(ws, ana["id"]) == pytest.approx(17.0)
    assert points(ws, ben["id"]) == pytest.approx(2.0)  # the April email is outside the 30 days
    # ten days later the email is two half-lives old: a quarter of its points
    engine.rescore(ws, now="2026-06-11T12:00:00Z")
    assert points(ws, ana["id"]) == pytest.approx(16.0)
    # three fresh emails would be 12 points: the cap holds it at 6
    for _ in range(3):
        ws.store.insert("activities", {"kind": "email", "contact_id": ben["id"], "occurred_at": CLOCK})
    engine.rescore(ws, now=CLOCK)
    assert points(ws, ben["id"]) == pytest.approx(6.0)
    assert_no_plugin_errors(ws)


def test_the_breakdown_sums_to_each_contacts_rule_points(demo_workspace):
    ws = demo_workspace
    from crm_workspace_scoring.engine import breakdown

    stored = dict(ws.store.conn.execute("SELECT contact_id, rule_points FROM lead_scores").fetchall())
    for contact_id in list(stored)[::7]:
        assert sum(p["points"] for p in breakdown(ws, contact_id)) == pytest.approx(stored[contact_id], abs=0.011)
    assert ws.store.scalar("SELECT count(*) FROM lead_scores") == ws.store.scalar("SELECT count(*) FROM contacts")
    top = ws.df("scoring.scores", limit=1).iloc[0]
    parts = ws.df("scoring.breakdown", contact_id=int(top["contact_id"]))
    assert len(parts) and parts["points"].sum() == pytest.approx(top["rule_points"], abs=0.02)
    assert set(parts.columns) >= {"rule", "kind", "condition", "points"}


def test_a_write_rescores_only_the_contacts_it_touched(demo_workspace, monkeypatch):
    ws = demo_workspace
    seen: list = []
    real = engine.rescore
    monkeypatch.setattr(engine, "rescore", lambda w, ids=None, **kw: seen.append(ids) or real(w, ids, **kw))
    old = "2000-01-01T00:00:00Z"
    with ws.store.transaction():
        ws.store.conn.execute("UPDATE lead_scores SET updated_at = ?", [old])

    def changed():
        return {r["contact_id"] for r in ws.query("SELECT contact_id FROM lead_scores WHERE updated_at != ?", [old])}

    plain = ws.query("SELECT id, version FROM contacts WHERE title NOT LIKE '%head%' AND organization_id != 3 LIMIT 2")
    ws.store.update("contacts", plain[0]["id"], {"title": "Head of Everything"}, version=plain[0]["version"])
    assert seen == [{plain[0]["id"]}] and changed() == {plain[0]["id"]}  # the senior-title rule now matches
    now = ws.store.scalar("SELECT strftime('%Y-%m-%dT%H:%M:%SZ', 'now')")
    ws.store.insert("activities", {"kind": "meeting", "contact_id": plain[1]["id"], "occurred_at": now})
    assert seen[-1] == {plain[1]["id"]} and changed() == {plain[0]["id"], plain[1]["id"]}
    org = ws.store.get("organizations", 3)
    members = {r["id"] for r in ws.query("SELECT id FROM contacts WHERE organization_id = 3")}
    ws.store.update("organizations", 3, {"industry": "retail" if org["industry"] == "software" else "software"})
    assert seen[-1] == members and changed() == {plain[0]["id"], plain[1]["id"]} | members
    assert len(changed()) < ws.store.scalar("SELECT count(*) FROM contacts")
    # a new contact is scored at once; a deleted one leaves no score behind
    new = ws.store.insert("contacts", {"first_name": "Neu", "title": "CEO"})
    assert points(ws, new["id"]) is not None
    ws.store.delete("contacts", new["id"])
    assert points(ws, new["id"]) is None


def test_machine_events_never_raise_a_score(workspace):
    ws = workspace
    with ws.store.transaction():  # the marketing plugin's table, as far as scoring reads it
        ws.store.conn.execute(
            "CREATE TABLE IF NOT EXISTS marketing_events (id INTEGER PRIMARY KEY, contact_id INTEGER, kind TEXT, at TEXT,"
            " machine INTEGER NOT NULL DEFAULT 0)"
        )
    person = ws.store.insert("contacts", {"first_name": "Real"})
    scanned = ws.store.insert("contacts", {"first_name": "Scanned"})
    rule(ws, "Clicks", "engagement", {"count": "marketing_events", "kind": "click", "within_days": 90}, 5, cap=50)
    rows = [(person["id"], 0)] + [(scanned["id"], 1)] * 5 + [(person["id"], 1)] * 3
    with ws.store.transaction():
        ws.store.conn.executemany(
            "INSERT INTO marketing_events (contact_id, kind, at, machine) VALUES (?, 'click', ?, ?)",
            [(cid, "2026-05-30T00:00:00Z", machine) for cid, machine in rows],
        )
    engine.rescore(ws, now=CLOCK)
    assert points(ws, person["id"]) == pytest.approx(5.0)  # one human click; its 3 machine clicks count nothing
    assert points(ws, scanned["id"]) == 0


def test_bad_rules_are_refused_with_a_reason_and_nothing_is_written(workspace):
    ws = workspace
    cases = [
        ("fit", "{not json", "not valid JSON"),
        ("fit", json.dumps({"field": "shoe_size", "op": "gt", "value": 40}), "no field 'shoe_size'"),
        ("fit", json.dumps({"field": "title", "op": "sounds_like", "value": "x"}), "unknown op"),
        ("engagement", json.dumps({"count": "tweets"}), "counts one of"),
        ("fit", json.dumps({"field": "title", "op": "in", "value": "CEO"}), "non-empty list"),
    ]
    for kind, condition, message in cases:
        with pytest.raises(ValidationError) as caught:
            ws.store.insert("score_rules", {"name": "x", "kind": kind, "condition": condition, "points": 1})
        assert message in str(caught.value)
    with pytest.raises(ValidationError, match="only engagement rules"):
        rule(ws, "x", "fit", {"field": "title", "op": "is_set"}, 1, cap=5)
    assert ws.store.scalar("SELECT count(*) FROM score_rules") == 0
    # a value is always a bound parameter: quotes and wildcards are just text
    rule(ws, "Quotes", "fit", {"field": "title", "op": "contains", "value": "'; DROP TABLE contacts; --%"}, 1)
    ws.store.insert("contacts", {"first_name": "Q", "title": "CEO"})
    assert ws.store.scalar("SELECT sum(rule_points) FROM lead_scores") == 0


def test_suggested_rules_and_toggling_a_rule_rescore_everyone(demo_workspace):
    ws = demo_workspace
    assert rules.add_suggested(ws) == 0  # the demo has them all
    # scores decay with time: the demo template was scored when the session began (minutes ago in a
    # loaded run), so score everyone now, and only the seconds until the toggle's rescore remain
    engine.rescore_all(ws)
    senior = ws.query("SELECT id, version FROM score_rules WHERE name = 'Senior title'")[0]
    frame = ws.df("scoring.rules").set_index("name")
    assert frame.loc["Senior title", "contacts"] > 0
    total = ws.store.scalar("SELECT sum(rule_points) FROM lead_scores")
    rules.set_enabled(ws, senior["id"], False, senior["version"])
    assert ws.store.scalar("SELECT sum(rule_points) FROM lead_scores") == pytest.approx(
        total - frame.loc["Senior title", "points_given"], abs=0.5
    )
    frame = ws.df("scoring.rules").set_index("name")
    assert frame.loc["Senior title", "enabled"] == 0
    assert frame.loc["Senior title", "contacts"] != frame.loc["Senior title", "contacts"]  # NaN: gives nothing


def test_a_viewer_sees_scores_but_cannot_rescore(demo_db):
    ws = make_workspace(demo_db, user="eve")  # eve is the demo's viewer
    assert ws.read_only
    with pytest.raises(PermissionDenied):
        engine.rescore_all(ws)
    from crm_workspace_scoring import learn

    with pytest.raises(PermissionDenied, match="may not train"):
        learn.train(ws)
    assert len(ws.df("scoring.scores", limit=5)) == 5


def test_stale_scores_are_refreshed_by_the_periodic_work_and_fresh_ones_left_alone(demo_workspace):
    from crm_workspace.services.scheduler import run_ticks

    ws = demo_workspace
    as_of = engine.last_run(ws.store)
    assert engine.refresh_if_stale(ws, as_of) == 0
    later = "2099-01-01T00:00:00Z"
    run = run_ticks(ws, later, plugins=["scoring"])  # the scheduler's tick, as system:scoring
    assert [(r.plugin, r.ok) for r in run] == [("scoring", True)], run
    assert engine.last_run(ws.store) == later
    # by then every engagement point has decayed away: those contacts' rows changed, the rest were left alone
    assert ws.store.scalar("SELECT count(*) FROM lead_scores WHERE updated_at = ?", [later]) > 0
    assert engine.refresh_if_stale(ws, later) == 0
    assert ws.store.scalar("SELECT contacts FROM score_runs ORDER BY id DESC LIMIT 1") == ws.store.scalar(
        "SELECT count(*) FROM contacts"
    )


def test_the_page_model_adds_and_edits_a_rule_against_the_version_seen(demo_workspace):
    from crm_workspace_scoring.model import NEW, ScoringModel

    from crm_workspace.errors import ConflictError

    ws = demo_workspace
    form = ScoringModel(workspace=ws)
    form.param.update(
        rule_name="CEOs", kind="fit", condition='{"field": "title", "op": "equals", "value": "ceo"}', points=15
    )
    assert form.reads() == "title equals ceo"
    saved = form.save()
    assert form.rule_id == saved["id"] and "CEOs" in form.rule_choices()
    ceos = ws.store.scalar("SELECT count(*) FROM contacts WHERE lower(title) = 'ceo'")
    assert ws.store.scalar("SELECT contacts FROM score_rule_stats WHERE rule_id = ?", [saved["id"]]) == ceos > 0
    other = ScoringModel(workspace=ws, rule_id=saved["id"])
    assert other.rule_name == "CEOs" and other.points == 15
    other.points = 20
    other.save()
    form.points = 1  # form still holds version 1: refused, not overwritten
    with pytest.raises(ConflictError):
        form.save()
    assert ws.store.get("score_rules", saved["id"])["points"] == 20
    form.rule_id = NEW
    assert form.rule_name == "" and form.condition == ""


def test_the_condition_builder_writes_json_a_person_never_types(workspace):
    from crm_workspace_scoring.model import ScoringModel

    form = ScoringModel(workspace=workspace)
    assert "organization.industry" in form.param.b_field.objects
    form.param.update(b_field="organization.industry", b_op="in", b_value="software, finance")
    assert json.loads(form.build()) == {"field": "organization.industry", "op": "in", "value": ["software", "finance"]}
    form.param.update(kind="engagement", b_count="activities", b_kind="meeting", b_days=60)
    assert json.loads(form.build()) == {"count": "activities", "kind": "meeting", "within_days": 60}
    form.param.update(rule_name="Meetings", points=8, cap=24, half_life_days=30)
    saved = form.save()
    assert json.loads(saved["condition"]) == {"count": "activities", "kind": "meeting", "within_days": 60}


def test_a_large_write_is_queued_for_the_next_tick_not_scored_inside_it(demo_workspace):
    ws = demo_workspace
    before = engine.last_run(ws.store)
    rows = [{"first_name": f"Imported {i}", "title": "IT Director"} for i in range(engine.INLINE_LIMIT + 1)]
    ids = ws.store.insert_many("contacts", rows)
    assert ws.store.scalar("SELECT count(*) FROM score_dirty") == len(ids)
    assert ws.store.scalar("SELECT count(*) FROM lead_scores WHERE contact_id >= ?", [min(ids)]) == 0
    # the next tick finds unscored contacts: everyone is rescored, the queue emptied
    assert engine.refresh_if_stale(ws, before) == ws.store.scalar("SELECT count(*) FROM contacts")
    assert ws.store.scalar("SELECT count(*) FROM score_dirty") == 0
    assert ws.store.scalar("SELECT min(rule_points) FROM lead_scores WHERE contact_id >= ?", [min(ids)]) >= 10
    # queued updates of scored contacts are rescored alone when nothing else is due
    engine.queue(ws, ids[:3])
    assert engine.refresh_if_stale(ws, before) == 3


def test_a_persons_scores_are_exported_and_removed_on_erasure(demo_db, tmp_path):
    from crm_workspace.services import privacy

    ws = make_workspace(demo_db, user="ana")
    person = ws.query("SELECT id, email FROM contacts WHERE email IS NOT NULL ORDER BY id LIMIT 1")[0]
    assert privacy.gather(ws, person["email"])["lead_scores"][0]["contact_id"] == person["id"]
    privacy.erase(ws, person["email"], tmp_path)
    assert ws.query("SELECT * FROM lead_scores WHERE contact_id = ?", [person["id"]]) == []


def test_an_erased_contact_is_never_scored_again(demo_db, tmp_path):
    from crm_workspace.services import privacy

    ws = make_workspace(demo_db, user="ana")
    # someone whose kept fields (stage, organization) still earn fit points after the erasure
    person = ws.query(
        "SELECT c.id, c.email FROM contacts c JOIN lead_scores s ON s.contact_id = c.id"
        " WHERE c.email IS NOT NULL AND s.rule_points > 0 ORDER BY s.rule_points DESC LIMIT 1"
    )[0]
    privacy.erase(ws, person["email"], tmp_path)
    assert privacy.erased(ws, [person["id"]]) == {person["id"]}  # the core's list, no copy of the plugin's
    assert "score_erased" not in ws.store.db.table_names()
    rule(ws, "Any contact", "fit", {"field": "id", "op": "gt", "value": 0}, 7)  # a new rule: everyone rescored
    assert ws.query("SELECT * FROM lead_scores WHERE contact_id = ?", [person["id"]]) == []
    assert engine.rescore(ws) == ws.store.scalar("SELECT count(*) FROM contacts") - 1
    assert engine.rescore(ws, [person["id"]]) == 1  # asked for by id: still nothing stored
    assert ws.query("SELECT * FROM lead_scores WHERE contact_id = ?", [person["id"]]) == []
    assert engine.breakdown(ws, person["id"]) == []
    ws.store.update("contacts", person["id"], {"lifecycle_stage": "customer"})  # a later write scores nobody
    assert ws.query("SELECT * FROM lead_scores WHERE contact_id = ?", [person["id"]]) == []
    # the tick does not see an "unscored" contact and rescore everyone each time
    assert engine.refresh_if_stale(ws, engine.last_run(ws.store)) == 0
    ws.close()


def test_people_erased_before_the_upgrade_are_marked_from_the_audit_trail(demo_db, tmp_path):
    from crm_workspace_scoring import schema

    from crm_workspace.data import schema as core_schema
    from crm_workspace.services import privacy

    ws = make_workspace(demo_db, user="ana")
    person = ws.query("SELECT id, email FROM contacts WHERE email IS NOT NULL ORDER BY id LIMIT 1")[0]
    privacy.erase(ws, person["email"], tmp_path)
    with ws.store.transaction() as db:  # as an older version left it: no mark, and a score back
        db.execute("DROP TABLE erased_contacts")
        db.execute("INSERT INTO lead_scores (contact_id, rule_points) VALUES (?, 5)", [person["id"]])
        core_schema.m006_erased_contacts(db)
        schema.m002_erased(db)
    assert ws.store.scalar("SELECT contact_id FROM erased_contacts") == person["id"]
    assert ws.query("SELECT * FROM lead_scores WHERE contact_id = ?", [person["id"]]) == []
    ws.close()


def test_a_full_rescore_in_small_batches_gives_the_same_scores(demo_workspace, monkeypatch):
    ws = demo_workspace
    whole = ws.query("SELECT contact_id, rule_points, model_score FROM lead_scores ORDER BY contact_id")
    stats = ws.query("SELECT rule_id, contacts, points FROM score_rule_stats ORDER BY rule_id")
    monkeypatch.setattr(engine, "BATCH", 37)  # each batch its own transaction: writers wait one batch at most
    assert engine.rescore(ws, now=engine.last_run(ws.store)) == len(whole)
    assert ws.query("SELECT contact_id, rule_points, model_score FROM lead_scores ORDER BY contact_id") == whole
    assert ws.query("SELECT rule_id, contacts, points FROM score_rule_stats ORDER BY rule_id") == stats


def test_the_distribution_is_drawn_as_bars_in_plain_html():
    """One HTML pane instead of a Bokeh figure (~30 models the page's first screen drew): bars in
    proportion, each count shown and on hover, the buckets' starts below."""
    import pandas as pd
    from crm_workspace_scoring.views import distribution_html

    markup = distribution_html(pd.DataFrame({"points_from": [-10, 0, 10], "contacts": [5, 20, 0]}))
    assert markup.count('class="crm-bar"') == 3
    assert "height:40px" in markup and "height:160px" in markup and "height:0px" in markup
    assert 'title="0: 20 contacts"' in markup and "<span>-10</span>" in markup
    assert "No contact has been scored yet" in distribution_html(pd.DataFrame({"points_from": [], "contacts": []}))
