"""Contacts pages in Python, without a server: record sections by key, widgets bound to models."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest

from crm_workspace import RecordSection, hookimpl
from crm_workspace.testing import make_workspace, page_text

pytest.importorskip("panel")


class DealsLookalike:
    """A third-party plugin whose sections happen to be titled like the built-ins'."""

    @hookimpl
    def crm_record_sections(self, workspace, table, record_id):
        return [RecordSection("Deals", lambda: "nps deals"), RecordSection("Relationships", lambda: "nps people")]


@pytest.fixture
def ws(tmp_path):
    workspace = make_workspace(tmp_path / "crm.db")
    yield workspace
    workspace.close()


def contact_with_a_deal_and_a_relationship(ws) -> int:
    a = ws.store.insert("contacts", {"first_name": "Ada", "last_name": "Lovelace"})
    b = ws.store.insert("contacts", {"first_name": "Charles", "last_name": "Babbage"})
    ws.store.insert("deals", {"title": "Engine", "contact_id": a["id"], "amount": 5})
    ws.store.insert(
        "relationships",
        {"source_type": "contacts", "source_id": a["id"], "target_type": "contacts", "target_id": b["id"],
         "kind": "works_with"},
    )  # fmt: skip
    return a["id"]


def own_lists_text(record) -> str:
    return page_text(record._deals_view())


def test_record_sections_carry_keys_derived_when_missing(ws):
    ws.register(DealsLookalike(), name="nps")
    keys = {s.key for s in ws.record_sections("contacts", 1)}
    assert {"pipeline.deals", "relationships.list", "nps.deals", "nps.relationships"} <= keys
    assert RecordSection("Deals", lambda: None).key == ""  # derived only once the plugin is known
    assert RecordSection("My Notes!", lambda: None, plugin="x").key == "x.my-notes"
    assert RecordSection("Deals", lambda: None, plugin="x", key="x.d").key == "x.d"


def test_a_third_party_section_titled_deals_hides_nothing(ws):
    from crm_workspace_contacts.views import ContactRecord

    contact_id = contact_with_a_deal_and_a_relationship(ws)
    ws.disable("pipeline")
    ws.disable("relationships")
    ws.register(DealsLookalike(), name="nps")
    text = own_lists_text(ContactRecord(workspace=ws, record_id=contact_id))
    assert "Engine" in text and "Babbage" in text


def test_the_built_in_sections_replace_the_short_lists(ws):
    from crm_workspace_contacts.views import ContactRecord

    contact_id = contact_with_a_deal_and_a_relationship(ws)
    text = own_lists_text(ContactRecord(workspace=ws, record_id=contact_id))
    assert text.strip() == ""  # no heading, no leftover placeholder: the sections below show them
    ws.disable("relationships")
    text = own_lists_text(ContactRecord(workspace=ws, record_id=contact_id))
    assert "Engine" not in text and "Babbage" in text


def test_the_record_shows_no_internal_fields_and_humane_times(ws):
    import re

    import panel as pn
    from crm_workspace_contacts.views import ContactRecord

    contact_id = contact_with_a_deal_and_a_relationship(ws)
    ws.store.update("contacts", contact_id, {"marketing_consent": 1, "consent_at": "2026-01-02T03:04:05Z"})
    ws.store.insert("activities", {"contact_id": contact_id, "kind": "call", "subject": "Intro call"})
    record = ContactRecord(workspace=ws, record_id=contact_id)
    text = re.sub(r"<[^>]*>", " ", page_text(record))  # what a person reads (hover titles aside)
    assert "Intro call" in text and "Version" not in text and "sections below" not in text
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", text), "a raw ISO time is shown"
    own = re.sub(r"<[^>]*>", " ", page_text(pn.Column(record._details, record._lifecycle, record._timeline)))
    assert not re.search(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d", own), "a raw time is shown"
    assert "2 Jan 2026" in own  # the consent time, humanised
    assert "just now" in text
    timeline = record._timeline().objects[0].object
    assert re.search(r"title='\d{1,2} \w{3} \d{4} \d\d:\d\d UTC'", timeline)  # the exact time on hover
    assert isinstance(record.logger.buttons, pn.FlexBox) and record.logger.buttons.flex_wrap == "wrap"


def test_timeline_edits_name_fields_by_label_and_show_values_as_people_read_them(ws):
    import re

    from crm_workspace_contacts.views import ContactRecord

    org = ws.store.insert("organizations", {"name": "Acme & Co"})
    contact = ws.store.insert("contacts", {"first_name": "A", "last_name": "B"})
    ws.store.update(
        "contacts",
        contact["id"],
        {"first_name": "Ann", "stakeholder_type": "customer", "organization_id": org["id"],
         "lifecycle_stage": "marketing_qualified", "consent_at": "2026-01-02T03:04:05Z", "marketing_consent": 1},
    )  # fmt: skip
    timeline = ContactRecord(workspace=ws, record_id=contact["id"])._timeline().objects[0].object
    text = re.sub(r"<[^>]*>", " ", timeline)
    assert "First name: A → Ann" in text and "Stakeholder type: Prospect → Customer" in text
    assert "Organization: — → Acme &amp; Co" in text and "Lifecycle stage: — → Marketing qualified" in text
    assert "Marketing consent: — → Yes" in text and "2 Jan 2026" in text
    assert not re.search(r"first_name|stakeholder_type|organization_id|marketing_qualified|\dT\d", text)


@pytest.fixture
def demo(demo_template, tmp_path):
    import shutil

    path = tmp_path / "demo.db"
    shutil.copy(demo_template, path)
    workspace = make_workspace(path)
    yield workspace
    workspace.close()


# ------------------------------------------------------------------ shape
VIEWS = Path(__file__).resolve().parents[1] / "plugins" / "crm_workspace_contacts" / "views"


def test_views_hold_no_sql_and_stay_small():
    import re

    sql = re.compile(r"\b(SELECT|INSERT INTO|DELETE FROM|UPDATE \w+ SET|CREATE TABLE)\b|\.(query|scalar|execute)\(")
    modules = sorted(VIEWS.glob("*.py"))
    assert len(modules) > 5
    for module in modules:
        text = module.read_text()
        assert not sql.search(text), f"{module.name} holds SQL: {sql.search(text).group(0)}"
        assert len(text.splitlines()) < 450, module.name


def test_the_activity_buttons_cover_every_kind():
    from crm_workspace_contacts.records import ACTIVITY_ICONS
    from crm_workspace_contacts.views.activities import START_BUTTONS

    from crm_workspace.data.schema import ACTIVITY_KINDS
    from crm_workspace.web.icons import SHAPES

    assert [kind for kind, _label in START_BUTTONS] == list(ACTIVITY_KINDS)
    assert all(ACTIVITY_ICONS[kind] in SHAPES for kind in ACTIVITY_KINDS)  # shipped icons, not emoji


# ------------------------------------------------------------------ lists
def test_contact_list_widgets_are_bound_to_the_model_both_ways(demo):
    from crm_workspace_contacts.views import ContactListView

    view = ContactListView(workspace=demo)
    model = view.model
    assert view.status.object.startswith("**300 contacts**") and len(view.table.value) == 50
    view.stage_w.value = "customer"
    assert model.lifecycle_stage == "customer" and set(view.table.value["lifecycle_stage"]) == {
        "Customer"
    }  # shown as a word
    model.owner = "ana"
    assert view.owner_w.value == "ana" and set(view.table.value["owner"]) == {"ana"}
    view.stage_w.value = ""  # "(any)"
    assert "lifecycle_stage" not in model.filters()
    view.search.value_input = "jos"  # as typed, before Enter
    assert model.search == "jos" and model.page == 0
    view.after_w.value = date(2100, 1, 1)
    assert model.touched_after == date(2100, 1, 1) and view.table.value.empty
    assert view.status.object.startswith("**0 contacts**") and view.next.disabled


def test_the_contact_list_fills_the_width_with_readable_columns(demo):
    from crm_workspace_contacts.views import ContactListView

    table = ContactListView(workspace=demo).table
    assert table.titles["first_name"] == "First name"
    share = {k: float(v.rstrip("%")) for k, v in table.widths.items()}
    assert sum(share.values()) <= 100 and share["email"] >= 20 and share["phone"] >= 10
    touched = [t for t in table.value["last_touched"] if t]
    assert touched and all(t.startswith("<time class='crm-when'") for t in touched)  # "3 days ago", exact on hover
    shown = [re.sub(r"<[^>]+>", "", t) for t in touched]  # what a person reads in the cell
    assert not any(re.search(r"\d{4}-\d\d-\d\d", s) for s in shown)
    assert any(s.endswith(" ago") for s in shown)
    assert table.formatters["last_touched"] == "html"


def test_a_filter_change_goes_back_to_page_one_with_one_load(demo, monkeypatch):
    from crm_workspace_contacts import queries
    from crm_workspace_contacts.views import ContactListView

    view = ContactListView(workspace=demo)
    view.next.clicks += 1
    assert view.model.page == 1 and not view.prev.disabled and "showing 51–100" in view.status.object
    calls = []
    real = queries.list_contacts
    monkeypatch.setattr(queries, "list_contacts", lambda *a, **k: calls.append(k) or real(*a, **k))
    view.type_w.value = "customer"
    assert view.model.page == 0 and view.prev.disabled and len(calls) == 1 and "showing 1–" in view.status.object


def test_contacts_page_routes_and_narrows_to_an_organization(demo):
    from crm_workspace_contacts.views import ContactsPage

    page = ContactsPage(workspace=demo)
    listing = page._list
    assert listing is not None and "contacts** — showing" in page_text(page)
    org = demo.store.scalar("SELECT organization_id FROM contacts WHERE organization_id IS NOT NULL LIMIT 1")
    demo.open_page("contacts", organization_id=org)
    assert page._list is listing and listing.model.organization_id == org
    people = demo.store.scalar("SELECT count(*) FROM contacts WHERE organization_id = ?", [org])
    assert len(listing.table.value) == people
    name = demo.store.scalar("SELECT name FROM organizations WHERE id = ?", [org])
    assert f"Organization: {name} ✕" in page_text(page)
    demo.open_page("contacts", id=5)
    contact = demo.store.get("contacts", 5)
    assert f"{contact['first_name']} {contact['last_name']}" in page_text(page)
    demo.open_page("contacts", org=org)
    assert "All people in the contact list ▶" in page_text(page)
    demo.open_page("contacts", id=999_999)
    assert "◀ All contacts" in page_text(page)
    demo.open_page("contacts")
    assert "Organization:" in page_text(page)  # the list kept its narrowing


def test_organizations_page_has_a_model_bound_to_its_widgets(demo):
    from crm_workspace_contacts.state import OrganizationListModel
    from crm_workspace_contacts.views import OrganizationsPage
    from openpyxl import load_workbook

    page = OrganizationsPage(workspace=demo)
    assert isinstance(page.model, OrganizationListModel)
    total = demo.store.scalar("SELECT count(*) FROM organizations")
    assert page.status.object == f"**{total:,} organizations** — page 1"
    industry = demo.store.scalar("SELECT industry FROM organizations WHERE industry IS NOT NULL LIMIT 1")
    page.industry.value = industry
    assert page.model.industry == industry and set(page.table.value["industry"]) == {industry}
    page.sort.value, page.desc.value = "contacts", True
    counts = list(page.table.value["contacts"])
    assert counts == sorted(counts, reverse=True)
    book = load_workbook(page._export())
    expected = demo.store.scalar("SELECT count(*) FROM organizations WHERE industry = ?", [industry])
    assert book.active.max_row - 1 == expected
    page.search.value_input = "<no such org>"
    assert page.table.value.empty and page.status.object.startswith("**0 organizations**")
    page.model.search = ""
    page.model.industry = ""
    assert len(page.table.value) == min(total, 50)


def test_lists_follow_the_workspace_revision(demo):
    from crm_workspace_contacts.views import ContactListView, OrganizationsPage

    contacts, orgs = ContactListView(workspace=demo), OrganizationsPage(workspace=demo)
    contacts.model.search = "Zebedee"
    orgs.model.search = "Zebedee"
    demo.store.insert("organizations", {"name": "Zebedee Ltd"})
    demo.store.insert("contacts", {"first_name": "Zebedee", "last_name": "Spring"})
    assert list(contacts.table.value["first_name"]) == ["Zebedee"]
    assert list(orgs.table.value["name"]) == ["Zebedee Ltd"]


# ------------------------------------------------------------------ forms
def test_form_fields_are_bound_to_a_draft_and_a_conflict_can_overwrite(ws):
    from crm_workspace_contacts.views import RecordForm

    contact = ws.store.insert("contacts", {"first_name": "A", "title": "old"})
    done = []
    mine = RecordForm(workspace=ws, record_id=contact["id"], on_done=done.append)
    assert mine.widgets["stakeholder_type"].value == "prospect" and mine.widgets["owner"].value == "tester"
    mine.widgets["title"].value = "mine"
    assert mine.draft.title == "mine"
    ws.store.update("contacts", contact["id"], {"title": "theirs"})
    assert mine.submit() is None and mine.draft.conflict is not None and done == []
    (conflict,) = mine.message.objects
    overwrite = conflict[2][0]
    assert overwrite.label == "Overwrite with mine"
    overwrite.clicks += 1
    assert ws.store.get("contacts", contact["id"])["title"] == "mine" and done[0]["title"] == "mine"


def test_new_organization_form_saves_and_reports_field_errors(ws):
    from crm_workspace_contacts.views import RecordForm

    done = []
    form = RecordForm(workspace=ws, table="organizations", on_done=done.append)
    assert list(form.widgets) == ["name", "domain", "industry", "city", "country", "phone", "website", "owner"]
    form.save.clicks += 1
    assert done == [] and (any(a.visible for a in form.errors.values()) or form.message.objects)
    form.widgets["name"].value = "Acme <b>Co</b>"
    form.save.clicks += 1
    assert done and done[0]["name"] == "Acme <b>Co</b>"
    assert form.message.objects == [] and not any(a.visible for a in form.errors.values())


# ------------------------------------------------------------ record pages
def test_activity_form_is_built_at_the_first_click_and_logs(ws):
    from crm_workspace_contacts.views import ContactRecord

    contact = ws.store.insert("contacts", {"first_name": "Ada"})
    record = ContactRecord(workspace=ws, record_id=contact["id"])
    logger = record.logger
    assert logger.draft is None and not logger.form.objects  # nothing built until asked
    task_button = logger.buttons[-1]
    task_button.clicks += 1
    assert logger.form.visible and logger.due.visible and logger.save.label == "Save task"
    assert logger.subject.value == "Follow up" and logger.channel.value == "phone"
    logger.save.clicks += 1
    assert logger.error.visible and "due date" in logger.error.object
    logger.due.value = date(2020, 1, 2)
    logger.save.clicks += 1
    assert not logger.form.visible
    (task,) = ws.store.query("SELECT kind, due_at, done FROM activities WHERE contact_id = ?", [contact["id"]])
    assert task == {"kind": "task", "due_at": "2020-01-02T17:00:00Z", "done": 0}
    logger.buttons[0].clicks += 1  # a call: no due date, no owner picker
    assert not logger.due.visible and not logger.error.visible and logger.save.label == "Save call"
    assert "Follow up" in page_text(record._timeline())


def test_show_more_widens_the_timeline_without_a_revision_bump(ws):
    from crm_workspace_contacts.views import ContactRecord

    contact = ws.store.insert("contacts", {"first_name": "Ada"})
    ws.store.insert_many(
        "activities",
        [{"kind": "note", "subject": f"n{i}", "contact_id": contact["id"], "occurred_at": f"2026-01-01T10:{i % 60:02d}:00Z"}
         for i in range(150)],
    )  # fmt: skip
    record = ContactRecord(workspace=ws, record_id=contact["id"])
    revision = ws.revision
    assert record.more in record._timeline().objects
    record.more.clicks += 1
    assert record.model.timeline_limit == 300 and ws.revision == revision
    assert record.more not in record._timeline().objects


def test_organization_record_lists_its_people(demo):
    from crm_workspace_contacts.views import OrganizationRecord

    org = demo.store.scalar("SELECT organization_id FROM contacts WHERE organization_id IS NOT NULL LIMIT 1")
    person = demo.store.query("SELECT first_name, last_name FROM contacts WHERE organization_id = ? LIMIT 1", [org])[0]
    record = OrganizationRecord(workspace=demo, record_id=org)
    text = page_text(record)
    assert person["last_name"] in text and "All people in the contact list" in text
    people = record._people()[0]  # one list, not a button a person
    first = demo.store.query("SELECT id FROM contacts WHERE organization_id = ? ORDER BY last_name, first_name", [org])
    people._handle_msg({"type": "click", "row": 0, "column": "name", "v": json.loads(people.payload)["v"]})
    assert (demo.page, demo.page_args) == ("contacts", {"id": first[0]["id"]})


# -------------------------------------------------------------- duplicates
def test_duplicates_merge_with_bound_pickers_and_undo(demo):
    from crm_workspace_contacts.views import DuplicatesPage, MergeCard

    page = DuplicatesPage(workspace=demo)
    page.__panel__()
    pair = page.model.pairs()[0]
    page._review(pair)
    review = page.model.review
    card = page.merge_card
    assert isinstance(card, MergeCard) and review.choices and len(page.merge_area.objects) == 1
    choice = review.choices[0]
    picker = page.merge_area.objects[0][1][1]
    picker.value = "loser" if choice.take == "winner" else "winner"
    assert choice.take == picker.value
    log_id = page.model.merge()
    assert (
        log_id
        and page.model.review is None
        and not page.merge_area.objects
        and page.status.visible
        and page.status.alert_type == "success"
    )
    winner = demo.store.get("contacts", pair["a"])
    loser_value = review.loser.get(choice.field) if choice.take == "loser" else review.winner.get(choice.field)
    assert str(winner[choice.field]) == str(loser_value)
    page._undo(log_id)
    assert demo.store.query("SELECT 1 FROM contacts WHERE id = ?", [pair["b"]])
    page._review({"a": pair["a"], "b": 999_999})  # gone: nothing opens
    assert page.model.review is None


def test_my_tasks_is_one_list_that_marks_ticked_tasks_done_and_opens_a_task_s_record(ws):
    from datetime import UTC, datetime, timedelta

    from crm_workspace_contacts import model
    from crm_workspace_contacts.views import MyTasks

    from crm_workspace.web.list_table import RowClick

    ada = ws.store.insert("contacts", {"first_name": "Ada", "last_name": "Lovelace"})["id"]
    acme = ws.store.insert("organizations", {"name": "Acme"})["id"]
    soon = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT09:00:00Z")
    model.log_activity(ws, "contacts", ada, "task", subject="Call <b>back</b>", due_at="2020-01-01T09:00:00Z")
    model.log_activity(ws, "organizations", acme, "task", subject="Renewal", due_at="2020-01-02T09:00:00Z")
    model.log_activity(ws, "contacts", ada, "task", subject="Demo", due_at=soon)
    model.log_activity(ws, "contacts", ada, "task", subject="Not mine", due_at="2020-01-01T09:00:00Z", owner="ben")
    view = MyTasks(workspace=ws)
    frame = view.table.value
    assert frame["subject"].tolist() == ["Call <b>back</b>", "Renewal", "Demo"]
    assert frame["with"].tolist() == ["Ada Lovelace", "Acme", "Ada Lovelace"]
    assert frame["state"].tolist() == ["Overdue", "Overdue", ""]  # only an overdue task says so
    assert view.table.selectable and view.summary.object == "**2** overdue · **1** due in the next 7 days"
    assert not any(column["html"] for column in json.loads(view.table.payload)["columns"])  # all drawn as text
    view._open(RowClick(1, "subject", "Renewal"))
    assert (ws.page, ws.page_args) == ("organizations", {"id": acme})
    view._open(RowClick(0, "with", "Ada Lovelace"))
    assert (ws.page, ws.page_args) == ("contacts", {"id": ada})
    view._mark_done()  # nothing ticked: nothing done
    assert len(model.my_tasks(ws)) == 3
    view.table.selection = [1, 2]
    view._mark_done()
    assert [t["subject"] for t in model.my_tasks(ws)] == ["Call <b>back</b>"]
    assert view.table.value["subject"].tolist() == ["Call <b>back</b>"]
    assert view.summary.object == "**1** overdue · **0** due in the next 7 days"


def test_marking_a_task_someone_changed_meanwhile_marks_nothing_and_shows_the_list_as_it_is(ws):
    from crm_workspace_contacts import model
    from crm_workspace_contacts.views import MyTasks

    ada = ws.store.insert("contacts", {"first_name": "Ada"})["id"]
    _one, two, three = (
        model.log_activity(ws, "contacts", ada, "task", subject=s, due_at="2020-01-01T09:00:00Z")
        for s in ("One", "Two", "Three")
    )
    view = MyTasks(workspace=ws)
    view.table.selection = [0, 1]
    other = ws.as_user("ben")
    other.store.update("activities", two["id"], {"subject": "Two, renamed"})
    view._mark_done()
    assert len(model.my_tasks(ws)) == 3  # all or nothing: One was not marked either
    assert view.table.selected_dataframe["subject"].tolist() == ["One", "Two, renamed"]  # the list as it is now
    view._mark_done()  # a second look, a second click: the versions are the current ones
    assert [t["subject"] for t in model.my_tasks(ws)] == ["Three"]
    other.store.update("activities", three["id"], {"done": 1})  # done by someone else meanwhile: what was asked
    model.mark_all_done(ws, [(three["id"], three["version"])])
    assert model.my_tasks(ws) == []


def test_a_viewer_s_task_list_has_no_ticks_and_a_disabled_button(ws):
    from crm_workspace_contacts.views import MyTasks

    ws.store.insert("users", {"username": "eve", "role": "viewer"})
    view = MyTasks(workspace=ws.as_user("eve"))
    assert not view.table.selectable and view.done.disabled and "Read-only" in view.done.description
