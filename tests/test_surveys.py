"""Satisfaction surveys: CSAT mail after a solved ticket (real SMTP), signed links over real HTTP,
NPS ticks idempotent, churn-risk flags, metrics, personal data."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from crm_workspace_surveys import rules
from crm_workspace_surveys.nps import period_start

from crm_workspace.services import privacy
from crm_workspace.services.scheduler import run_ticks
from crm_workspace.testing import configure_smtp, route_server

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def desk(workspace, smtpd):
    configure_smtp(workspace, smtpd.port)
    workspace.set_setting("nps_every_days", 0)  # CSAT only here
    ana = workspace.store.insert(
        "contacts",
        {"first_name": "Ana", "last_name": "Lima", "email": "ana@example.com", "lifecycle_stage": "customer"},
    )
    ticket = workspace.store.insert(
        "tickets",
        {"subject": "Cannot export", "requester_id": ana["id"], "status": "open", "assignee": "bob", "team": "tier1"},
    )
    return workspace, smtpd, ana, ticket


def solve(ws, ticket_id):
    row = ws.store.get("tickets", ticket_id)
    return ws.store.update("tickets", ticket_id, {"status": "solved"}, version=row["version"])


def links(message) -> dict[str, str]:
    text = message.get_body(("plain",)).get_content()
    return {m[0]: urlsplit(m[1]) for m in re.findall(r"^(\w+): (http\S+)", text, re.M)}


def path_of(url) -> str:
    return url.path + (f"?{url.query}" if url.query else "")


def test_csat_mail_after_solving_once_per_ticket(desk):
    ws, smtpd, _ana, ticket = desk
    assert not ws.query("SELECT 1 FROM mail_outbox WHERE key LIKE 'csat:%'")
    solve(ws, ticket["id"])
    run_ticks(ws, plugins=["surveys"])
    assert [m["To"] for m in smtpd.messages] == ["ana@example.com"]
    assert f"[#{ticket['id']}]" in smtpd.messages[0]["Subject"]
    assert set(links(smtpd.messages[0])) == {"Good", "Bad"}
    # reopened and solved again: still one survey
    row = ws.store.get("tickets", ticket["id"])
    ws.store.update("tickets", ticket["id"], {"status": "open"}, version=row["version"])
    solve(ws, ticket["id"])
    run_ticks(ws, plugins=["surveys"])
    assert len(smtpd.messages) == 1
    assert ws.store.scalar("SELECT count(*) FROM mail_outbox WHERE key = ?", [f"csat:{ticket['id']}"]) == 1


def test_rating_by_link_recorded_once_and_changeable(desk):
    ws, smtpd, ana, ticket = desk
    solve(ws, ticket["id"])
    run_ticks(ws, plugins=["surveys"])
    bad = links(smtpd.messages[0])["Bad"]
    with route_server(ws) as server:
        status, _h, body = server.request("GET", path_of(bad))
        page = body.decode()
        assert status == 200 and 'value="0" checked' in page and "<textarea" in page
        assert ws.store.scalar("SELECT count(*) FROM survey_responses") == 0  # a scanner's GET records nothing
        status, _h, body = server.request("POST", bad.path, "score=0&comment=Too+slow+%3Cb%3E", FORM)
        assert status == 200 and "Thank you" in body.decode()
        flagged = ws.query("SELECT tag FROM contact_tags WHERE contact_id = ?", [ana["id"]])
        assert {"tag": "churn-risk"} in flagged
        assert rules.open_flag(ws, ana["id"])["reason"] == f"CSAT: Bad (ticket #{ticket['id']})"
        status, _h, _b = server.request("POST", bad.path, "score=1&comment=", FORM)  # changed their mind
        assert status == 200
    answers = ws.query("SELECT score, comment, ticket_id FROM survey_responses WHERE kind = 'csat'")
    assert answers == [{"score": 1, "comment": None, "ticket_id": ticket["id"]}]
    assert rules.open_flag(ws, ana["id"]) is None  # the better answer cleared the flag it opened
    assert not ws.query("SELECT 1 FROM contact_tags WHERE contact_id = ? AND tag = 'churn-risk'", [ana["id"]])
    timeline = ws.query("SELECT subject FROM activities WHERE contact_id = ?", [ana["id"]])
    assert timeline == [{"subject": f"CSAT: Good (ticket #{ticket['id']})"}]
    summary = ws.df("surveys.summary", by="agent")
    assert summary.to_dict("records") == [{"agent": "bob", "csat_answers": 1, "csat_pct": 100.0}]


def test_tampered_or_foreign_link_records_nothing(desk):
    ws, smtpd, _ana, ticket = desk
    solve(ws, ticket["id"])
    run_ticks(ws, plugins=["surveys"])
    good = links(smtpd.messages[0])["Good"]
    token = good.path.rsplit("/", 1)[1]
    forged = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    with route_server(ws) as server:
        for path in (f"/s/csat/{forged}", f"/s/nps/{token}"):  # changed; signed for another purpose
            status, _h, body = server.request("POST", path, "score=1", FORM)
            assert status == 400 and "not valid" in body.decode()
            assert server.request("GET", path)[0] == 400
    assert ws.store.scalar("SELECT count(*) FROM survey_responses") == 0


def test_an_answer_cannot_change_after_seven_days(desk):
    ws, _smtpd, ana, ticket = desk
    rules.record(ws, "csat", ana["id"], 1, ticket_id=ticket["id"], now="2026-01-01T10:00:00Z")
    rules.record(ws, "csat", ana["id"], 0, ticket_id=ticket["id"], now="2026-01-07T10:00:00Z")
    with pytest.raises(rules.CrmError, match="7 days"):
        rules.record(ws, "csat", ana["id"], 1, ticket_id=ticket["id"], now="2026-01-20T10:00:00Z")
    assert ws.query("SELECT score FROM survey_responses") == [{"score": 0}]
    with pytest.raises(rules.CrmError):
        rules.record(ws, "nps", ana["id"], 11, period="2026-01-01")


def customers(ws):
    rows = {}
    for name, consent, stage in [
        ("given", 1, "customer"),
        ("unasked", None, "customer"),
        ("withdrawn", 0, "customer"),
        ("lead", 1, "lead"),
    ]:
        rows[name] = ws.store.insert(
            "contacts",
            {
                "first_name": name,
                "email": f"{name}@example.com",
                "lifecycle_stage": stage,
                "marketing_consent": consent,
            },
        )
    return rows


def test_nps_tick_is_idempotent_per_period(workspace, smtpd):
    configure_smtp(workspace, smtpd.port)
    people = customers(workspace)
    now = "2026-11-30T09:00:00Z"
    for _ in range(2):
        run_ticks(workspace, now, plugins=["surveys"])
    assert sorted(m["To"] for m in smtpd.messages) == ["given@example.com", "unasked@example.com"]
    period = period_start(now, 90)
    keys = {r["key"] for r in workspace.query("SELECT key FROM mail_outbox WHERE plugin = 'surveys'")}
    assert keys == {f"nps:{people[n]['id']}:{period}" for n in ("given", "unasked")}
    link = links(smtpd.messages[0])
    assert set(link) == {str(n) for n in range(11)}
    with route_server(workspace) as server:
        status, _h, _b = server.request("POST", link["3"].path, "score=3&comment=meh", FORM)
        assert status == 200
    row = workspace.query("SELECT kind, score, period FROM survey_responses")
    assert row == [{"kind": "nps", "score": 3, "period": period}]
    assert workspace.df("surveys.churn_risk")["reason"].tolist() == ["NPS: 3/10"]
    # the next period sends again, except to whoever asked for no more
    text = smtpd.messages[1].get_body(("plain",)).get_content()
    stop = urlsplit(re.search(r"No more of these surveys: (\S+)", text).group(1))
    with route_server(workspace) as server:
        status, _h, body = server.request("GET", path_of(stop))
        assert status == 200 and "Stop these surveys" in body.decode()
        assert not workspace.query("SELECT 1 FROM survey_optouts")  # a GET changes nothing
        assert server.request("POST", stop.path, "stop=1", FORM)[0] == 200
    stopped = workspace.query("SELECT contact_id FROM survey_optouts")
    assert len(stopped) == 1
    run_ticks(workspace, "2027-03-15T09:00:00Z", plugins=["surveys"])
    assert len(smtpd.messages) == 3
    assert smtpd.messages[2]["To"] != smtpd.messages[1]["To"]


def test_a_tick_queues_a_few_surveys_and_the_next_ticks_the_rest(workspace, monkeypatch):
    """A new period's thousands of customers are surveyed over several ticks, none twice."""
    from crm_workspace_surveys import nps

    customers(workspace)
    monkeypatch.setattr(nps, "PER_TICK", 1)
    now = "2026-11-30T09:00:00Z"
    queued = []
    for _ in range(3):
        run_ticks(workspace, now, plugins=["surveys"])
        queued.append(workspace.store.scalar("SELECT count(*) FROM mail_outbox WHERE plugin = 'surveys'"))
    assert queued == [1, 2, 2]  # the two customers due, one a tick
    assert len(nps.send_nps(workspace, now, dry_run=True)) == 0


def test_nps_settings(workspace):
    from crm_workspace_surveys.nps import send_nps

    customers(workspace)
    workspace.set_setting("nps_require_consent", True)
    assert [c["email"] for c in send_nps(workspace, "2026-11-30T09:00:00Z", dry_run=True)] == ["given@example.com"]
    workspace.set_setting("nps_every_days", 0)
    assert send_nps(workspace, "2026-11-30T09:00:00Z") == []
    assert not workspace.query("SELECT 1 FROM mail_outbox")


def test_personal_data_export_and_erase(desk, tmp_path):
    ws, _smtpd, ana, ticket = desk
    rules.record(ws, "csat", ana["id"], 0, "Agent Smith was rude to Ana Lima", ticket_id=ticket["id"])
    data = privacy.gather(ws, "ana@example.com")
    assert data["survey_responses"][0]["comment"] == "Agent Smith was rude to Ana Lima"
    assert data["churn_risk_flags"][0]["contact_id"] == ana["id"]
    privacy.erase(ws, "ana@example.com", tmp_path)
    comments = [r["comment"] for r in ws.query("SELECT comment FROM survey_responses")]
    assert comments and all("Ana Lima" not in (c or "") and "rude" not in (c or "") for c in comments)


def test_page_and_contact_section(desk):
    from crm_workspace_surveys.views import ContactSection, SatisfactionPage

    from crm_workspace.testing import page_text

    ws, _smtpd, ana, ticket = desk
    rules.record(ws, "csat", ana["id"], 0, "<script>x()</script>", ticket_id=ticket["id"])
    text = page_text(SatisfactionPage(workspace=ws))
    assert "0.0 %" in text and "&lt;script&gt;x()&lt;/script&gt;" in text and "<script>x()" not in text
    # the NPS answers by score: eleven HTML bars, detractors red, promoters green, not a Bokeh figure
    assert text.count('class="crm-bar"') == 11 and "NPS answers by score" in text
    assert 'title="0: 0 answers"' in text and "background:#d7301f" in text and "background:#1a9850" in text
    section = ContactSection(workspace=ws, contact_id=ana["id"])
    assert "Churn risk" in page_text(section) and section.clear.visible
    section.clear.clicks += 1
    assert rules.open_flag(ws, ana["id"]) is None and not section.clear.visible
    assert ws.query("SELECT cleared_by FROM survey_flags") == [{"cleared_by": "tester"}]
    ws.store.insert("users", {"username": "vera", "display_name": "Vera", "role": "viewer"})
    viewer = ContactSection(workspace=ws.as_user("vera"), contact_id=ana["id"])
    assert viewer.clear.disabled


def test_served_through_the_api(workspace):
    resources = {r.name: r for r in workspace.api_resources()}
    assert resources["survey_responses"].writable is False
    assert "views" in resources["kb_articles"].read_only


def test_tables_read_unassigned_and_readable_times_and_the_kpis_say_what_they_count(workspace):
    from crm_workspace_surveys import metrics
    from crm_workspace_surveys.views import table_html

    rows = [{"agent": None, "csat_pct": 50.0}, {"agent": "ana", "csat_pct": 87.8}, {"agent": "bob", "csat_pct": None}]
    agents = table_html(rows, [("agent", "agent"), ("csat_pct", "CSAT %")], "sv-agents")
    assert ">Unassigned</td>" in agents and ">Agent</th>" in agents and "sv-agents" in agents
    assert ">87.8 %</td>" in agents and ">50.0 %</td>" in agents and ">—</td>" in agents and "87.80" not in agents
    flags = table_html([{"flagged_at": "2026-11-02T09:05:00Z"}], [("flagged_at", "since")], "sv-flags")
    assert "2 Nov 2026 09:05" in flags and ">2026-11-02T" not in flags
    labels = {m.key: m.label for m in metrics.kpis(workspace)}
    assert labels["surveys.churn_flags"] == "Low survey scores (open)"


def test_the_page_lists_the_latest_churn_flags_and_says_how_many_there_are(workspace, monkeypatch):
    from crm_workspace_surveys import views

    from crm_workspace.testing import page_text

    monkeypatch.setattr(views, "FLAGS_SHOWN", 2)
    for n in range(3):
        contact = workspace.store.insert("contacts", {"first_name": f"Flagged{n}", "email": f"f{n}@example.com"})
        workspace.store.insert(
            "survey_flags",
            {"contact_id": contact["id"], "reason": "NPS: 2/10", "flagged_at": f"2026-11-0{n + 1}T09:00:00Z"},
        )
    again = workspace.store.query("SELECT contact_id FROM survey_flags ORDER BY id LIMIT 1")[0]["contact_id"]
    workspace.store.insert(
        "survey_flags", {"contact_id": again, "reason": "CSAT: bad", "flagged_at": "2026-10-01T09:00:00Z"}
    )
    text = page_text(views.SatisfactionPage(workspace=workspace))
    assert "3 contacts flagged; the 2 latest:" in text  # contacts, not flags: one has two
    assert "Flagged2" in text and "Flagged1" in text and "Flagged0" not in text  # the oldest is left out
    assert len(workspace.df("surveys.churn_risk")) == 4  # the notebook's view has every flag
