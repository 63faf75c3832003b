"""Lifecycle tracker: transitions from every write path, automatic rules, bad history, settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crm_workspace import CrmError, Workspace, hookimpl
from crm_workspace.errors import ValidationError
from crm_workspace.testing import assert_no_plugin_errors, page_text


def events(ws, contact_id):
    return [
        (r["from_stage"], r["to_stage"], r["by"])
        for r in ws.query(
            "SELECT from_stage, to_stage, by FROM lifecycle_events WHERE contact_id = ? ORDER BY at, id", [contact_id]
        )
    ]


def add_contact(ws, stage=None, **fields):
    return ws.store.insert("contacts", {"first_name": "Ana", "last_name": "Test", "lifecycle_stage": stage, **fields})


# ---------------------------------------------------------- write paths
def test_insert_with_a_stage_is_an_entry_event_and_updates_are_moves(workspace):
    contact = add_contact(workspace, "lead")
    assert events(workspace, contact["id"]) == [(None, "lead", "tester")]
    workspace.store.update("contacts", contact["id"], {"title": "CTO"})  # no stage change: no event
    workspace.store.update("contacts", contact["id"], {"lifecycle_stage": "opportunity"})
    assert events(workspace, contact["id"]) == [(None, "lead", "tester"), ("lead", "opportunity", "tester")]
    blank = add_contact(workspace)
    assert events(workspace, blank["id"]) == []


def test_bulk_insert_records_one_event_per_staged_contact(workspace):
    ids = workspace.store.insert_many(
        "contacts", [{"last_name": f"C{i}", "lifecycle_stage": "subscriber" if i % 2 else None} for i in range(6)]
    )
    assert workspace.store.scalar("SELECT count(*) FROM lifecycle_events") == 3
    assert {r["contact_id"] for r in workspace.query("SELECT contact_id FROM lifecycle_events")} == set(ids[1::2])


def test_notebook_session_and_another_user_are_recorded_with_their_name(workspace):
    contact = add_contact(workspace, "lead")
    other = Workspace.open(workspace.path, user="notebook-user")
    try:
        other.store.update("contacts", contact["id"], {"lifecycle_stage": "marketing_qualified"})
    finally:
        other.close()
    workspace.as_user("ben").store.update("contacts", contact["id"], {"lifecycle_stage": "sales_qualified"})
    assert events(workspace, contact["id"])[1:] == [
        ("lead", "marketing_qualified", "notebook-user"),
        ("marketing_qualified", "sales_qualified", "ben"),
    ]


def test_import_path_records_every_imported_stage(workspace, tmp_path):
    from crm_workspace_excel.execute import execute
    from crm_workspace_excel.plan import plan_import
    from crm_workspace_excel.prepare import prepare
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["First Name", "Last Name", "Email", "Lifecycle Stage"])
    sheet.append(["Ana", "Lopez", "ana@example.com", "customer"])
    sheet.append(["Ben", "Okafor", "ben@example.com", "lead"])
    path = tmp_path / "people.xlsx"
    book.save(path)
    prepared = prepare(workspace, path, entity="contacts")
    plan = plan_import(workspace, prepared.table, prepared.entity, prepared.mapping, "update")
    execute(workspace, plan)
    rows = workspace.query(
        "SELECT c.email, e.from_stage, e.to_stage FROM lifecycle_events e JOIN contacts c ON c.id = e.contact_id"
        " ORDER BY c.email"
    )
    assert [(r["email"], r["from_stage"], r["to_stage"]) for r in rows] == [
        ("ana@example.com", None, "customer"),
        ("ben@example.com", None, "lead"),
    ]


def test_another_plugin_moving_a_contact_is_recorded(workspace):
    class Promoter:
        """A third-party plugin: tagging a contact 'vip' in notes makes them an advocate."""

        @hookimpl
        def crm_record_changed(self, workspace, changes):
            for change in changes:
                after = change.after or {}
                if (
                    change.table == "contacts"
                    and after.get("notes") == "vip"
                    and after["lifecycle_stage"] != "advocate"
                ):
                    workspace.store.update("contacts", change.id, {"lifecycle_stage": "advocate"})

    workspace.register(Promoter(), name="promoter")
    contact = add_contact(workspace, "customer")
    workspace.store.update("contacts", contact["id"], {"notes": "vip"})
    assert events(workspace, contact["id"])[-1] == ("customer", "advocate", "tester")
    assert_no_plugin_errors(workspace)


def test_a_failed_write_records_no_event(workspace):
    contact = add_contact(workspace, "lead")
    with pytest.raises(ValidationError):
        workspace.store.update("contacts", contact["id"], {"lifecycle_stage": "king"})
    with pytest.raises(CrmError), workspace.store.transaction():
        workspace.store.update("contacts", contact["id"], {"lifecycle_stage": "customer"})
        raise CrmError("changed my mind")
    assert events(workspace, contact["id"]) == [(None, "lead", "tester")]


# ----------------------------------------------------------------- rules
def test_won_deal_makes_its_contact_a_customer_from_the_board(workspace):
    from crm_workspace_pipeline.model import PipelineModel

    contact = add_contact(workspace, "opportunity")
    deal = workspace.store.insert("deals", {"title": "Big", "contact_id": contact["id"], "stage": "proposal"})
    PipelineModel(workspace=workspace).move(deal["id"], "won", deal["version"])
    assert workspace.store.get("contacts", contact["id"])["lifecycle_stage"] == "customer"
    assert events(workspace, contact["id"])[-1] == ("opportunity", "customer", "tester")


def test_won_deal_never_moves_an_advocate_back_and_rule_can_be_switched_off(workspace):
    from crm_workspace_lifecycle.rules import set_rules

    advocate = add_contact(workspace, "advocate")
    deal = workspace.store.insert("deals", {"title": "Upsell", "contact_id": advocate["id"], "stage": "proposal"})
    workspace.store.update("deals", deal["id"], {"stage": "won", "status": "won"})
    assert workspace.store.get("contacts", advocate["id"])["lifecycle_stage"] == "advocate"
    set_rules(workspace, {"won_deal": {"enabled": False}})
    lead = add_contact(workspace, "lead")
    deal = workspace.store.insert("deals", {"title": "Small", "contact_id": lead["id"], "stage": "proposal"})
    workspace.store.update("deals", deal["id"], {"stage": "won", "status": "won"})
    assert workspace.store.get("contacts", lead["id"])["lifecycle_stage"] == "lead"


def test_a_logged_meeting_qualifies_a_lead_but_not_a_later_stage(workspace):
    lead = add_contact(workspace, "subscriber")
    opportunity = add_contact(workspace, "opportunity")
    for contact in (lead, opportunity):
        workspace.store.insert("activities", {"kind": "meeting", "contact_id": contact["id"], "subject": "Demo"})
    workspace.store.insert("activities", {"kind": "call", "contact_id": lead["id"]})
    assert workspace.store.get("contacts", lead["id"])["lifecycle_stage"] == "sales_qualified"
    assert workspace.store.get("contacts", opportunity["id"])["lifecycle_stage"] == "opportunity"
    assert events(workspace, lead["id"])[-1] == ("subscriber", "sales_qualified", "tester")


def test_rule_settings_are_validated(workspace):
    from crm_workspace_lifecycle.rules import rules, set_rules

    with pytest.raises(ValidationError, match="months"):
        set_rules(workspace, {"churn_risk": {"months": 0}})
    with pytest.raises(ValidationError, match="unknown stage"):
        set_rules(workspace, {"meeting": {"stage": "nowhere"}})
    set_rules(workspace, {"churn_risk": {"months": 3}})
    assert rules(workspace)["churn_risk"] == {"enabled": True, "months": 3}


def test_churn_risk_lists_quiet_customers_without_writing(workspace):
    quiet = add_contact(workspace, "customer")
    busy = add_contact(workspace, "customer")
    recent = (datetime.now(UTC) - timedelta(days=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    workspace.store.insert("activities", {"kind": "call", "contact_id": busy["id"], "occurred_at": recent})
    before = workspace.store.scalar("SELECT count(*) FROM audit_log")
    risk = workspace.df("lifecycle.churn_risk")
    assert list(risk["contact_id"]) == [quiet["id"]]
    metric = {m.key: m for m in workspace.metrics()}["churn_risk"]
    assert metric.value == 1 and "activities" in metric.sql
    assert workspace.store.scalar("SELECT count(*) FROM audit_log") == before


# ---------------------------------------------------------------- bad input
def test_future_events_refused_and_out_of_order_history_flagged(workspace):
    contact = add_contact(workspace)
    future = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with pytest.raises(ValidationError, match="in the future"):
        workspace.store.insert("lifecycle_events", {"contact_id": contact["id"], "to_stage": "lead", "at": future})
    with pytest.raises(ValidationError, match="ISO-8601"):
        workspace.store.insert("lifecycle_events", {"contact_id": contact["id"], "to_stage": "lead", "at": "yesterday"})
    with pytest.raises(ValidationError, match="unknown value"):
        workspace.store.insert(
            "lifecycle_events", {"contact_id": contact["id"], "to_stage": "king", "at": "2026-01-01T00:00:00Z"}
        )
    first = workspace.store.insert(
        "lifecycle_events", {"contact_id": contact["id"], "to_stage": "lead", "at": "2025-03-01T00:00:00Z"}
    )
    late = workspace.store.insert(
        "lifecycle_events",
        {"contact_id": contact["id"], "from_stage": None, "to_stage": "subscriber", "at": "2025-02-01T10:00:00+00:00"},
    )
    assert first["flagged"] is None
    assert late["at"] == "2025-02-01T10:00:00Z"
    assert "out of order" in late["flagged"]


def test_unknown_stage_refused_on_contacts(workspace):
    with pytest.raises(ValidationError, match="lifecycle_stage"):
        add_contact(workspace, "king")


# ---------------------------------------------------------------- settings
def test_stages_are_configurable_and_a_stage_in_use_cannot_be_removed(workspace):
    from crm_workspace_lifecycle.rules import set_stages

    add_contact(workspace, "lead")
    stages = workspace.lifecycle_stages()
    with pytest.raises(ValidationError, match=r"in use.*lead"):
        set_stages(workspace, [s for s in stages if s != "lead"])
    with pytest.raises(ValidationError, match="twice"):
        set_stages(workspace, [*stages, "lead"])
    set_stages(workspace, [s for s in stages if s != "marketing_qualified"] + ["evangelist"])
    assert "evangelist" in workspace.lifecycle_stages()
    contact = add_contact(workspace, "evangelist")  # core validation uses the same list
    with pytest.raises(ValidationError):
        add_contact(workspace, "marketing_qualified")
    funnel = workspace.df("lifecycle.funnel")
    assert "evangelist" in list(funnel["stage"]) and "marketing_qualified" not in list(funnel["stage"])
    assert events(workspace, contact["id"]) == [(None, "evangelist", "tester")]


def test_metrics_cards_carry_their_sql(demo_workspace):
    metrics = {m.key: m for m in demo_workspace.metrics() if m.plugin == "lifecycle"}
    expected = {
        "active_users_week",
        "idle_users_month",
        "new_contacts_month",
        "new_organizations_month",
        "new_deals_month",
        "missing_email",
        "complete_contacts",
        "probable_duplicates",
        "win_rate",
        "lead_to_customer",
        "churn_rate",
        "churn_risk",
    }
    assert expected <= set(metrics)
    for metric in metrics.values():
        assert demo_workspace.store.scalar(metric.sql) == metric.value
    total = demo_workspace.store.scalar("SELECT count(*) FROM contacts")
    missing = demo_workspace.store.scalar("SELECT count(*) FROM contacts WHERE coalesce(email, '') = ''")
    assert metrics["missing_email"].value == round(100 * missing / total, 1)
    assert_no_plugin_errors(demo_workspace)


def test_page_renders_every_section_and_follows_writes(demo_workspace):
    from crm_workspace_lifecycle.views import LifecyclePage

    page = LifecyclePage(workspace=demo_workspace)
    text = page_text(page)
    for heading in (
        "Funnel",
        "Time in stage",
        "Cohorts",
        "Flow",
        "Journey",
        "Metrics",
        "Stuck longest",
        "Data quality",
    ):
        assert heading in text
    before = int(page.model.funnel().set_index("stage").loc["advocate", "reached"])
    assert f'data-stage="advocate">{before:,}<' in text
    lead = demo_workspace.query("SELECT id FROM contacts WHERE lifecycle_stage = 'lead' LIMIT 1")[0]["id"]
    demo_workspace.store.update("contacts", lead, {"lifecycle_stage": "advocate"})
    assert f'data-stage="advocate">{before + 1:,}<' in page_text(page._funnel())


def test_cli_prints_views_and_refuses_removing_a_stage_in_use(workspace):
    import subprocess
    import sys
    from pathlib import Path

    add_contact(workspace, "lead")
    crm = str(Path(sys.executable).with_name("crm"))
    shown = subprocess.run(
        [crm, "--db", workspace.path, "lifecycle", "show", "funnel"], capture_output=True, text=True, timeout=60
    )
    assert shown.returncode == 0, shown.stderr
    assert "subscriber" in shown.stdout and "lead" in shown.stdout
    refused = subprocess.run(
        [crm, "--db", workspace.path, "lifecycle", "stages", "subscriber", "customer"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode != 0
    assert "still in use" in refused.stderr and "Traceback" not in refused.stderr
    assert "lead" in workspace.lifecycle_stages()


def test_settings_card_saves_stages_and_shows_the_refusal(workspace):
    import panel as pn
    from crm_workspace_lifecycle.views import LifecyclePage

    add_contact(workspace, "lead")
    card = LifecyclePage(workspace=workspace)._settings()
    widgets = [w for w in card.select(pn.widgets.Widget)]
    box = next(w for w in widgets if isinstance(w, pn.widgets.TextAreaInput))
    save = next(w for w in widgets if isinstance(w, pn.widgets.Button) and "stages" in w.label)
    box.value = "\n".join(s for s in workspace.lifecycle_stages() if s != "lead")
    save.clicks += 1
    assert "cannot remove stages still in use" in page_text(card)
    assert "lead" in workspace.lifecycle_stages()
    box.value = "\n".join([*workspace.lifecycle_stages(), "evangelist"])
    save.clicks += 1
    assert "Saved 9 stages" in page_text(card)
    assert workspace.lifecycle_stages()[-1] == "evangelist"
    months = next(w for w in widgets if isinstance(w, pn.widgets.IntInput))
    rules_button = next(w for w in widgets if isinstance(w, pn.widgets.Button) and "rules" in w.label)
    months.value = 2
    rules_button.clicks += 1
    assert "Rules saved" in page_text(card)
    from crm_workspace_lifecycle.rules import rules

    assert rules(workspace)["churn_risk"]["months"] == 2


def test_page_filters_are_bound_to_the_model_and_views_hold_no_sql(workspace):
    import re
    from datetime import date
    from pathlib import Path

    import crm_workspace_lifecycle.views as views
    from crm_workspace_lifecycle.views import LifecyclePage

    contact = add_contact(workspace, "lead", owner="ana")["id"]
    page = LifecyclePage(workspace=workspace)
    assert page.model.contact_id == page._contact.value == contact  # the latest stage change's contact
    page._start.value = date(2020, 1, 1)
    assert page.model.start == date(2020, 1, 1)
    page.model.owner = "ana"
    assert page._owner.value == "ana"
    text = Path(views.__file__).read_text()
    assert not re.search(r"\b(SELECT|INSERT INTO|UPDATE \w+ SET|DELETE FROM)\b", text)


def test_the_charts_show_stage_labels_not_stored_keys(demo_workspace):
    from crm_workspace_lifecycle import charts
    from crm_workspace_lifecycle.model import LifecycleModel

    model = LifecycleModel(workspace=demo_workspace)
    stages = model.stages()
    words = {s: s.replace("_", " ").capitalize() for s in stages}  # "marketing_qualified" -> "Marketing qualified"
    assert words["marketing_qualified"] == "Marketing qualified"

    def shown(axis, factors):
        """What a person reads under each factor of a categorical axis."""
        return [axis.major_label_overrides.get(f, f) for f in factors]

    time = charts.time_figure(model.time_in_stage())
    assert shown(time.yaxis[0], time.y_range.factors) == [words[s] for s in time.y_range.factors]
    flow = charts.flow_figure(model.flow(), stages)
    assert shown(flow.xaxis[0], flow.x_range.factors) == [words[s] for s in stages]
    assert shown(flow.yaxis[0], flow.y_range.factors)[-1] == "(new)"
    assert "Sales qualified" in shown(flow.yaxis[0], flow.y_range.factors)
    cohorts = model.cohorts()
    columns = [c for c in cohorts.columns if c not in ("cohort", "entered")]
    cohort = charts.cohort_figure(cohorts, columns)
    assert shown(cohort.xaxis[0], cohort.x_range.factors) == [words[s] for s in columns]
    assert list(time.renderers[0].data_source.data["stage"]) == list(model.time_in_stage()["stage"])  # data: keys

    mover = demo_workspace.query(
        "SELECT contact_id FROM lifecycle_events WHERE to_stage = 'marketing_qualified' LIMIT 1"
    )[0]["contact_id"]
    model.contact_id = mover
    journey = model.journey()
    fig = charts.journey_figure(journey)
    assert shown(fig.yaxis[0], fig.y_range.factors) == ["Service", "Sales", "Marketing"]
    (text,) = [r for r in fig.renderers if type(r.glyph).__name__ == "Text"]  # the words beside each diamond
    assert text.glyph.text == "stage" and "Marketing qualified" in list(text.data_source.data["stage"])
    assert "marketing_qualified" not in list(text.data_source.data["stage"])
    details = list(charts.journey_in_words(journey)["detail"])
    assert any("→ Marketing qualified" in d for d in details)
    assert not any("marketing_qualified" in d for d in details)
