"""``crm service`` on the demo help desk, the service data views and the home cards."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from crm_workspace_service import clock

from crm_workspace.cli import cli
from crm_workspace.testing import assert_no_plugin_errors, make_workspace, page_text


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("svc") / "crm.db"
    ws = make_workspace(path, demo=True, user="ana")
    yield ws
    ws.close()
    clock.set_now(None)


def run(db, *args):
    return CliRunner().invoke(cli, ["--db", str(db), "--user", "ana", *args], catch_exceptions=False)


def test_list_and_show_as_json(demo):
    result = run(demo.path, "service", "list", "--json", "--limit", "5")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert len(rows) == 5 and {"id", "subject", "status", "priority", "sla", "due", "assignee"} <= set(rows[0])
    assert all(r["status"] in ("new", "open", "pending", "on_hold") for r in rows)
    shown = json.loads(run(demo.path, "service", "show", str(rows[0]["id"]), "--json").output)[0]
    assert shown["id"] == rows[0]["id"] and shown["messages"] and set(shown["sla"]) == {"first_response", "resolution"}
    text = run(demo.path, "service", "show", str(rows[0]["id"])).output
    assert f"#{rows[0]['id']}" in text and "first response:" in text


def test_a_note_from_the_command_line_and_bad_input(demo):
    ticket = demo.query("SELECT id FROM tickets WHERE is_open = 1 ORDER BY id LIMIT 1")[0]["id"]
    result = run(demo.path, "service", "reply", str(ticket), "Called the customer back", "--note")
    assert result.exit_code == 0 and "note" in result.output
    assert (
        demo.store.scalar(
            "SELECT count(*) FROM ticket_messages WHERE ticket_id = ? AND kind = 'note' AND body_text = 'Called the customer back'",
            [ticket],
        )
        == 1
    )
    missing = CliRunner().invoke(cli, ["--db", str(demo.path), "service", "show", "999999"])
    assert missing.exit_code != 0 and "no ticket #999999" in missing.output
    bad = CliRunner().invoke(cli, ["--db", str(demo.path), "service", "list", "--view", "nonsense"])
    assert bad.exit_code != 0 and "unknown view" in bad.output


def test_views_metrics_and_the_page(demo):
    perf = demo.df("service.performance", group="team")
    assert set(perf["team"]) >= {"billing", "tech"}
    assert (
        (perf["first_response_median_h"] <= perf["first_response_p90_h"]) | perf["first_response_p90_h"].isna()
    ).all()
    assert perf["sla_compliance_pct"].between(0, 100).all()
    sla = demo.df("service.sla")
    open_count = demo.store.scalar("SELECT count(*) FROM tickets WHERE is_open = 1")
    assert len(sla) == open_count and set(sla["sla_state"]) <= {
        "ok",
        "soon",
        "breached",
        "paused",
        "none",
        "met",
        "missed",
    }
    assert demo.df("service.backlog")["total"].sum() == open_count
    cards = {m.key: m for m in demo.metrics()}
    assert cards["service_open"].value == open_count
    assert demo.df(cards["service_breached"].sql).iloc[0, 0] == cards["service_breached"].value
    queue = demo.df("service.queue", view="open", limit=10)
    assert len(queue) == 10
    text = page_text(demo.dashboard("service"))
    assert "Service" in text and "tickets · showing" in text
    requester = demo.query("SELECT requester_id FROM tickets WHERE requester_id IS NOT NULL LIMIT 1")[0]["requester_id"]
    sections = {s.title: s for s in demo.record_sections("contacts", requester)}
    assert "#" in page_text(sections["Tickets"].view())
    assert_no_plugin_errors(demo)


def test_merge_and_portal_link_from_the_command_line(demo):
    stray = demo.query("SELECT id, merge_candidate_id FROM tickets WHERE merge_candidate_id IS NOT NULL")[0]
    result = run(demo.path, "service", "merge", str(stray["id"]), str(stray["merge_candidate_id"]))
    assert result.exit_code == 0 and f"merged #{stray['id']}" in result.output
    assert demo.store.get("tickets", stray["id"])["status"] == "closed"
    email = demo.query("SELECT c.email FROM tickets t JOIN contacts c ON c.id = t.requester_id LIMIT 1")[0]["email"]
    link = run(demo.path, "service", "portal-link", email).output.strip()
    assert link.startswith("http://localhost:5006/s/p/")
    missing = CliRunner().invoke(cli, ["--db", str(demo.path), "service", "portal-link", "nobody@nowhere.example"])
    assert missing.exit_code != 0 and "no contact" in missing.output
