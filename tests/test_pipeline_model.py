"""Pipeline model: moves, probability defaults, weighted totals, rotting, won/lost rules, conflicts, views."""

from __future__ import annotations

import json

import pytest
from crm_workspace_pipeline.model import PipelineModel

from crm_workspace.errors import ConflictError, ValidationError


@pytest.fixture
def ws(workspace):
    org = workspace.store.insert("organizations", {"name": "Acme"})
    other = workspace.store.insert("organizations", {"name": "Globex"})
    contact = workspace.store.insert(
        "contacts", {"first_name": "Ana", "last_name": "Lee", "organization_id": org["id"]}
    )
    deals = [
        ("Alpha", "qualification", 1000, "ana", org["id"], "2030-01-10"),
        ("Beta", "qualification", 3000, "ben", other["id"], "2030-02-10"),
        ("Gamma", "proposal", 2000, "ana", org["id"], "2030-02-20"),
        ("Delta", "negotiation", 4000, "ben", org["id"], "2030-03-01"),
        ("Won one", "won", 5000, "ana", org["id"], "2029-12-01"),
        ("Lost one", "lost", 700, "ben", other["id"], "2029-12-01"),
    ]
    for title, stage, amount, owner, org_id, close in deals:
        extra = {"lost_reason": "price"} if stage == "lost" else {}
        workspace.store.insert(
            "deals",
            {
                "title": title,
                "stage": stage,
                "amount": amount,
                "owner": owner,
                "organization_id": org_id,
                "contact_id": contact["id"],
                "expected_close": close,
                "created_at": "2029-11-01T00:00:00Z",
                **extra,
            },
        )
    return workspace


def deal(ws, title):
    return ws.store.query("SELECT * FROM deals WHERE title = ?", [title])[0]


def model(ws, **params):
    return PipelineModel(workspace=ws, **params)


def test_new_deals_take_their_stages_defaults(ws):
    alpha, won = deal(ws, "Alpha"), deal(ws, "Won one")
    assert (alpha["probability"], alpha["status"], alpha["pipeline"]) == (10, "open", "default")
    assert alpha["stage_changed_at"] == "2029-11-01T00:00:00Z"
    assert (won["probability"], won["status"]) == (100, "won") and won["closed_at"]


def test_move_writes_stage_probability_time_and_audit(ws):
    alpha = deal(ws, "Alpha")
    moved = model(ws).move(alpha["id"], "proposal", alpha["version"])
    assert (moved["stage"], moved["probability"], moved["version"]) == ("proposal", 50, alpha["version"] + 1)
    assert moved["stage_changed_at"] != alpha["stage_changed_at"]
    audit = ws.query(
        "SELECT changes FROM audit_log WHERE table_name = 'deals' AND row_id = ? ORDER BY id", [str(alpha["id"])]
    )
    assert json.loads(audit[-1]["changes"])["after"]["stage"] == "proposal"


def test_a_probability_set_by_hand_sticks_until_cleared(ws):
    m = model(ws)
    alpha = deal(ws, "Alpha")
    saved = m.save_deal(alpha["id"], {"probability": "33"}, alpha["version"])
    assert (saved["probability"], saved["probability_manual"]) == (33, 1)
    moved = m.move(alpha["id"], "negotiation", saved["version"])
    assert moved["probability"] == 33
    cleared = m.save_deal(alpha["id"], {"probability": ""}, moved["version"])
    assert (cleared["probability"], cleared["probability_manual"]) == (75, 0)
    assert m.move(alpha["id"], "proposal", cleared["version"])["probability"] == 50
    # won and lost always take their stage's probability
    won = m.move(alpha["id"], "won", None)
    assert (won["probability"], won["status"]) == (100, "won")


def test_weighted_totals_from_sql_follow_every_write(ws):
    m = model(ws)
    totals = {t["stage"]: t for t in m.totals()}
    assert (totals["qualification"]["deals"], totals["qualification"]["amount"]) == (2, 4000)
    assert totals["qualification"]["weighted"] == pytest.approx(400)
    assert totals["negotiation"]["weighted"] == pytest.approx(3000)
    beta = deal(ws, "Beta")
    ws.store.update("deals", beta["id"], {"amount": 5000}, version=beta["version"])
    m.move(beta["id"], "proposal", None)
    ws.store.delete("deals", deal(ws, "Gamma")["id"])
    totals = {t["stage"]: t for t in m.totals()}
    assert totals["qualification"]["deals"] == 1 and totals["qualification"]["amount"] == pytest.approx(1000)
    assert totals["proposal"]["deals"] == 1 and totals["proposal"]["weighted"] == pytest.approx(2500)
    # the trigger-kept table agrees with a GROUP BY over the deals
    for row in ws.query("SELECT stage, count(*) n, total(amount * probability / 100.0) w FROM deals GROUP BY stage"):
        assert totals[row["stage"]]["deals"] == row["n"]
        assert totals[row["stage"]]["weighted"] == pytest.approx(row["w"])


def test_filters_aggregate_in_sql(ws):
    totals = {t["stage"]: t for t in model(ws, owner="ana").totals()}
    assert totals["qualification"]["deals"] == 1 and totals["negotiation"]["deals"] == 0
    totals = {t["stage"]: t for t in model(ws, organization="glob").totals()}
    assert totals["qualification"]["amount"] == 3000
    totals = {
        t["stage"]: t for t in model(ws, min_amount=2500, close_from="2030-02-01", close_to="2030-02-28").totals()
    }
    assert [s for s, t in totals.items() if t["deals"]] == ["qualification"]


def test_rotting_rules(ws):
    alpha, gamma = deal(ws, "Alpha"), deal(ws, "Gamma")
    m = model(ws, as_of="2029-11-20T00:00:00Z")  # 19 days after every stage change
    cards = {c["title"]: c for c in m.cards("qualification")} | {c["title"]: c for c in m.cards("proposal")}
    assert cards["Alpha"]["rotting"]  # qualification rots after 14 days
    assert not cards["Gamma"]["rotting"]  # proposal after 21
    assert cards["Alpha"]["days_in_stage"] == 19
    # an activity on the deal resets the clock
    ws.store.insert("activities", {"kind": "call", "deal_id": alpha["id"], "occurred_at": "2029-11-18T00:00:00Z"})
    assert not {c["title"]: c for c in m.cards("qualification")}["Alpha"]["rotting"]
    # a configurable limit
    m.save_stage("proposal", rot_days=5)
    assert {c["title"]: c for c in m.cards("proposal")}["Gamma"]["rotting"]
    m.rotting_only = True
    assert [t["deals"] for t in m.totals()][:3] == [1, 0, 1]  # Beta and Gamma
    # won and lost deals never rot; overdue is only for open deals past their close date
    late = model(ws, as_of="2031-01-01T00:00:00Z")
    assert not any(c["rotting"] or c["overdue"] for c in late.cards("won"))
    assert all(c["overdue"] for c in late.cards("proposal"))
    assert gamma["stage"] == "proposal"


def test_lost_needs_a_reason_won_takes_a_date(ws):
    m = model(ws)
    delta = deal(ws, "Delta")
    with pytest.raises(ValidationError) as error:
        m.move(delta["id"], "lost", delta["version"])
    assert "lost_reason" in error.value.errors
    with pytest.raises(ValidationError):
        ws.store.update("deals", delta["id"], {"stage": "lost"}, version=delta["version"])
    assert deal(ws, "Delta")["version"] == delta["version"]  # nothing saved
    lost = m.move(delta["id"], "lost", delta["version"], lost_reason="competitor: cheaper")
    assert (lost["status"], lost["lost_reason"], lost["probability"]) == ("lost", "competitor: cheaper", 0)
    assert lost["closed_at"]
    reopened = m.move(delta["id"], "negotiation", lost["version"])
    assert (reopened["status"], reopened["lost_reason"], reopened["closed_at"]) == ("open", None, None)
    won = m.move(delta["id"], "won", reopened["version"], won_date="2030-01-15")
    assert (won["status"], won["closed_at"]) == ("won", "2030-01-15")


def test_a_stale_move_is_a_conflict_and_writes_nothing(ws):
    m = model(ws)
    alpha = deal(ws, "Alpha")
    m.move(alpha["id"], "proposal", alpha["version"])  # someone else, first
    with pytest.raises(ConflictError) as error:
        m.move(alpha["id"], "negotiation", alpha["version"])
    assert error.value.theirs["stage"] == "proposal"
    assert deal(ws, "Alpha")["stage"] == "proposal"


def test_bad_input_is_refused_with_clear_messages(ws):
    with pytest.raises(ValidationError) as error:
        ws.store.insert("deals", {"title": "X", "stage": "nonsense"})
    assert "unknown stage 'nonsense'" in error.value.errors["stage"]
    with pytest.raises(ValidationError) as error:
        ws.store.insert("deals", {"title": "X", "pipeline": "nope"})
    assert "unknown pipeline" in error.value.errors["pipeline"]
    alpha = deal(ws, "Alpha")
    for changes, field in (
        ({"amount": -1}, "amount"),
        ({"amount": "lots"}, "amount"),
        ({"probability": 150}, "probability"),
    ):
        with pytest.raises(ValidationError) as error:
            model(ws).save_deal(alpha["id"], changes, alpha["version"])
        assert field in error.value.errors
    assert deal(ws, "Alpha")["version"] == alpha["version"]
    with pytest.raises(ValidationError):
        model(ws).save_stage("proposal", probability=120)


def test_stages_and_pipelines_are_configurable(ws):
    m = model(ws)
    m.save_stage("proposal", label="Offer sent", probability=40, position=2)
    m.add_stage("contract", label="Contract", probability=90, position=4)
    stages = {s["stage"]: s for s in m.stages()}
    assert (stages["proposal"]["label"], stages["proposal"]["probability"]) == ("Offer sent", 40)
    assert stages["contract"]["position"] == 4
    quick = m.quick_add("contract", "From the column", 1200)
    assert (quick["probability"], quick["owner"], quick["stage"]) == (90, "tester", "contract")
    m.add_pipeline("renewals")
    renewals = model(ws, pipeline="renewals")
    assert [s["stage"] for s in renewals.stages()] == [s["stage"] for s in m.stages()]
    r = renewals.quick_add("qualification", "Renewal 2031")
    assert r["pipeline"] == "renewals"
    assert {t["stage"]: t["deals"] for t in renewals.totals()}["qualification"] == 1
    assert {t["stage"]: t["deals"] for t in m.totals()}["qualification"] == 2
    with pytest.raises(ValidationError):
        m.add_pipeline("renewals")


def test_columns_page_their_cards(ws):
    for i in range(5):
        model(ws).quick_add("qualification", f"Extra {i}", 10)
    m = model(ws, page_size=3)
    column = m.columns()[0]
    assert (column["deals"], len(column["cards"]), column["more"]) == (7, 3, 4)
    m.load_more("qualification")
    column = m.columns()[0]
    assert (len(column["cards"]), column["more"]) == (6, 1)
    assert set(column["cards"][0]) >= {"title", "organization", "contact", "amount", "owner", "next_task", "rotting"}


def test_forecast_views_match_the_model(ws):
    m = model(ws)
    by_month = ws.df("pipeline.forecast_by_month")
    assert list(by_month["month"]) == ["2030-01", "2030-02", "2030-03"]
    assert by_month.set_index("month").loc["2030-02", "weighted"] == pytest.approx(3000 * 0.1 + 2000 * 0.5)
    assert by_month.equals(m.forecast_by_month())
    by_owner = ws.df("pipeline.forecast_by_owner").set_index("owner")
    assert by_owner.loc["ben", "weighted"] == pytest.approx(300 + 3000)
    kpis = m.kpis()
    assert kpis["win_rate"] == pytest.approx(0.5) and kpis["avg_deal_size"] == 5000
    assert ws.df("pipeline.board", owner="ana")["deals"].sum() == 3
    assert len(ws.df("pipeline.cards")) == 6


def test_slipped_deals_come_from_the_audit_trail(ws):
    beta = deal(ws, "Beta")
    updated = ws.store.update("deals", beta["id"], {"expected_close": "2030-04-10"}, version=beta["version"])
    ws.store.update("deals", beta["id"], {"expected_close": "2030-03-01"}, version=updated["version"])  # pulled in
    slipped = ws.df("pipeline.slipped")
    assert list(slipped["title"]) == ["Beta"]
    assert (slipped["was"][0], slipped["now"][0], slipped["days_slipped"][0]) == ("2030-02-10", "2030-04-10", 59)


def test_home_metrics_agree_with_the_deals(ws):
    metrics = {m.key: m.value for m in ws.metrics()}
    open_deals = ws.query(
        "SELECT total(amount) a, total(amount * probability / 100.0) w FROM deals WHERE status = 'open'"
    )
    assert metrics["pipeline_value"] == pytest.approx(open_deals[0]["a"])
    assert metrics["pipeline_weighted"] == pytest.approx(open_deals[0]["w"])


def test_cli_board_forecast_and_move(ws):
    from click.testing import CliRunner

    from crm_workspace.cli import cli

    runner = CliRunner()
    path = ws.path
    result = runner.invoke(cli, ["--db", path, "pipeline", "board"])
    assert result.exit_code == 0, result.output
    assert "qualification" in result.output and "4000" in result.output.replace(",", "")
    result = runner.invoke(cli, ["--db", path, "pipeline", "forecast", "--by", "owner"])
    assert result.exit_code == 0 and "ben" in result.output
    alpha = deal(ws, "Alpha")
    result = runner.invoke(cli, ["--db", path, "pipeline", "move", str(alpha["id"]), "lost"])
    assert result.exit_code != 0 and "lost" in result.output and "Traceback" not in result.output
    result = runner.invoke(cli, ["--db", path, "pipeline", "move", str(alpha["id"]), "lost", "--reason", "price"])
    assert result.exit_code == 0 and "now in lost" in result.output
    assert deal(ws, "Alpha")["lost_reason"] == "price"


def test_sessions_showing_the_same_board_share_one_computation_until_the_data_changes(ws, tmp_path):
    from crm_workspace import Workspace
    from crm_workspace.testing import make_workspace

    ana, ben = PipelineModel(workspace=ws.as_user("ana")), PipelineModel(workspace=ws.as_user("ben"))
    first = ana.board()
    assert ben.board() is first  # same data, same filters: computed once
    assert json.loads(first[1]) == first[0] and first[0] == ana.columns()
    ben.owner = "ben"
    assert ben.board() is not first and ben.board()[0] != first[0]  # another filter, another board
    other = Workspace.open(ws.path, user="carol", builtins_only=True)  # another connection commits
    other.store.insert("deals", {"title": "Epsilon", "stage": "qualification", "amount": 10})
    other.close()
    after = ana.board()
    assert after is not first and any(c["title"] == "Epsilon" for c in after[0][0]["cards"])
    elsewhere = make_workspace(tmp_path / "elsewhere.db")  # another database never shares a board
    assert PipelineModel(workspace=elsewhere).board()[0][0]["deals"] == 0
    elsewhere.close()


def test_the_forecast_by_month_shows_empty_months_as_zeros(ws):
    ws.store.insert("deals", {"title": "Later", "stage": "proposal", "amount": 100, "expected_close": "2030-06-15"})
    ws.store.insert("deals", {"title": "Undated", "stage": "proposal", "amount": 50})
    frame = model(ws).forecast_by_month()
    months = list(frame["month"])
    assert months == ["2030-01", "2030-02", "2030-03", "2030-04", "2030-05", "2030-06", "no date"]
    gap = frame.set_index("month").loc["2030-04"]
    assert (gap["deals"], gap["amount"], gap["weighted"]) == (0, 0, 0)
    assert frame.set_index("month").loc["2030-06", "deals"] == 1


def test_a_deal_move_writes_a_note_on_its_contacts_timeline_in_the_same_transaction(ws):
    m = model(ws)
    alpha = deal(ws, "Alpha")
    m.move(alpha["id"], "proposal", alpha["version"])
    m.move(alpha["id"], "won", alpha["version"] + 1)
    notes = ws.store.query(
        "SELECT kind, subject, deal_id, organization_id, owner FROM activities WHERE contact_id = ? ORDER BY id",
        [alpha["contact_id"]],
    )
    assert [n["kind"] for n in notes] == ["note", "note"]
    assert "Alpha" in notes[0]["subject"] and "Qualification → Proposal" in notes[0]["subject"]
    assert "Proposal → Won" in notes[1]["subject"]
    assert notes[0]["deal_id"] == alpha["id"] and notes[0]["organization_id"] == alpha["organization_id"]
    # a refused move (lost without a reason) writes no note either
    with pytest.raises(ValidationError):
        m.move(deal(ws, "Beta")["id"], "lost", deal(ws, "Beta")["version"])
    assert ws.store.scalar("SELECT count(*) FROM activities WHERE deal_id = ?", [deal(ws, "Beta")["id"]]) == 0
    # the deal's own timeline shows each move once (from the audit trail)
    timeline = m.deal_timeline(alpha["id"])
    assert {t["kind"] for t in timeline} == {"stage"}
    subjects = sorted(t["subject"] for t in timeline)
    assert subjects == ["Created in Qualification", "Moved Proposal → Won", "Moved Qualification → Proposal"]
    # the contact's record timeline (the contacts module) shows them
    contact_timeline = ws.df("contacts.timeline", id=alpha["contact_id"])
    assert contact_timeline["subject"].str.contains("Proposal → Won").any()


def test_the_people_on_a_deal_are_its_contact_and_those_active_on_it_not_the_whole_company(ws):
    alpha = deal(ws, "Alpha")
    ws.store.insert("contacts", {"first_name": "Bob", "last_name": "Idle", "organization_id": alpha["organization_id"]})
    carl = ws.store.insert("contacts", {"first_name": "Carl", "last_name": "Met", "organization_id": None})
    ws.store.insert(
        "activities", {"kind": "meeting", "subject": "demo", "contact_id": carl["id"], "deal_id": alpha["id"]}
    )
    people = model(ws).deal_contacts(alpha["id"])
    assert [p["first_name"] for p in people] == ["Ana", "Carl"]
    assert people[0]["primary_contact"] == 1


def test_the_owner_is_a_team_member_and_pickers_search_the_database(ws):
    ws.store.insert("users", {"username": ws.user, "display_name": "Tess Ter", "role": "admin"})  # acts on
    ws.store.insert("users", {"username": "ana", "display_name": "Ana Lee"})
    ws.store.insert("users", {"username": "ben", "display_name": "Ben Ode", "active": 0})
    m = model(ws)
    assert m.owner_choices() == {"Ana Lee (ana)": "ana", f"Tess Ter ({ws.user})": ws.user}
    gamma = deal(ws, "Gamma")
    with pytest.raises(ValidationError) as refused:
        m.save_deal(gamma["id"], {"owner": "nobody"}, gamma["version"])
    assert "not on the team" in refused.value.errors["owner"]
    assert deal(ws, "Gamma")["owner"] == "ana"
    delta = deal(ws, "Delta")  # ben is not active any more: keeping him is fine, choosing him again is not
    m.save_deal(delta["id"], {"owner": "ben", "title": "Delta 2"}, delta["version"])
    globex = ws.store.query("SELECT id FROM organizations WHERE name = 'Globex'")[0]["id"]
    assert m.organization_choices("glob") == {f"Globex (#{globex})": globex}
    assert list(m.organization_choices("", current=globex).values()) == [globex]  # blank: the chosen one alone
    m.save_deal(gamma["id"], {"owner": "ana", "organization_id": globex}, gamma["version"])
    card = m.deal_card(gamma["id"])
    assert (card["organization"], card["stage_label"], card["contact"]) == ("Globex", "Proposal", "Ana Lee")
    ana = m.contact_choices("lee")
    assert list(ana.values()) == [deal(ws, "Gamma")["contact_id"]] and "Ana Lee" in next(iter(ana))


def test_money_is_written_in_the_currency_as_people_read_it():
    from crm_workspace_pipeline.values import money

    assert money(57500.0, "EUR") == "€57,500"
    assert money(57500.0) == "€57,500"
    assert money(1200, "CHF") == "1,200 CHF"
    assert money(-3.0, "USD") == "-$3"
    assert money(None) == ""
