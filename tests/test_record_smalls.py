"""Issue 18 item 7: custom fields on the record, recipes on the Import page, merge undo, long names."""

from __future__ import annotations

import pytest
from excel_workbooks import simple

from crm_workspace.testing import make_workspace, page_text

pytest.importorskip("panel")


@pytest.fixture
def ws(tmp_path):
    workspace = make_workspace(tmp_path / "crm.db")
    yield workspace
    workspace.close()


def import_with_custom(ws, tmp_path) -> int:
    from crm_workspace_excel.execute import execute
    from crm_workspace_excel.plan import plan_import
    from crm_workspace_excel.prepare import prepare

    path = simple(tmp_path / "c.xlsx", ["First Name", "Email", "Shoe Size"], [["Ana", "ana@example.com", 38]])
    prepared = prepare(ws, path, map_options=["Shoe Size=custom"])
    execute(ws, plan_import(ws, prepared.table, prepared.entity, prepared.mapping, "update", file_name=path.name))
    return ws.store.scalar("SELECT id FROM contacts WHERE email = 'ana@example.com'")


def test_imported_custom_fields_shown_and_edited_on_the_contact_record(ws, tmp_path):
    from crm_workspace_contacts.views import ContactRecord
    from crm_workspace_excel.execute import custom_fields

    ana = import_with_custom(ws, tmp_path)
    record = ContactRecord(workspace=ws, record_id=ana)
    sections = {s.key: s for s in ws.record_sections("contacts", ana)}
    assert "excel.custom-fields" in sections
    text = page_text(record)
    assert "Shoe Size" in text and "38" in text
    section = sections["excel.custom-fields"].view()
    section.inputs["Shoe Size"].value = "39"
    assert section.save_values() == 1
    assert custom_fields(ws, "contacts", ana) == {"Shoe Size": "39"}
    section.inputs["Shoe Size"].value = "x" * 501
    assert section.save_values() == 0 and "at most 500" in section.message
    # a record without custom fields has no such section
    bo = ws.store.insert("contacts", {"first_name": "Bo"})
    assert "excel.custom-fields" not in {s.key for s in ws.record_sections("contacts", bo["id"])}


def test_import_page_applies_a_saved_recipe(ws, tmp_path):
    from crm_workspace_excel import recipes
    from crm_workspace_excel.views import ImportPage

    path = simple(tmp_path / "r.xlsx", ["Who", "Mail"], [["Ana Lopez", "a@example.com"]])
    recipes.save(ws, "monthly", "contacts", {"Who": "full_name", "Mail": "email"}, on_duplicate="skip")
    page = ImportPage(workspace=ws)
    assert page.recipe_select.options == ["monthly"]
    page.model.load(path.read_bytes(), "r.xlsx")
    page.recipe_select.value = "monthly"
    page.apply_recipe.clicks += 1
    assert page.model.mapping == {"Who": "full_name", "Mail": "email"}
    assert page.model.on_duplicate == "skip"


def test_undoing_a_merge_leaves_the_lifecycle_journey_as_it_was(ws):
    from crm_workspace_contacts import merge

    a = ws.store.insert("contacts", {"first_name": "Ana", "lifecycle_stage": "lead"})
    b = ws.store.insert("contacts", {"first_name": "Ana", "lifecycle_stage": "subscriber"})

    def journey(contact_id):
        return ws.store.query(
            "SELECT from_stage, to_stage FROM lifecycle_events WHERE contact_id = ? ORDER BY id", [contact_id]
        )

    before = journey(b["id"])
    assert before == [{"from_stage": None, "to_stage": "subscriber"}]
    merge.undo_merge(ws, merge.merge_contacts(ws, a["id"], b["id"]))
    assert journey(b["id"]) == before
    assert journey(a["id"]) == [{"from_stage": None, "to_stage": "lead"}]


def test_a_five_thousand_character_name_is_refused_clearly(ws):
    from crm_workspace import ValidationError

    with pytest.raises(ValidationError, match=r"at most 100 characters \(this one has 5,000\)"):
        ws.store.insert("contacts", {"first_name": "A" * 5000})
    with pytest.raises(ValidationError, match="at most 200 characters"):
        ws.store.insert("organizations", {"name": "O" * 201})
    with pytest.raises(ValidationError, match="at most 200 characters"):
        ws.store.insert("deals", {"title": "D" * 5000})
    assert ws.store.scalar("SELECT count(*) FROM contacts") == 0
    ok = ws.store.insert("contacts", {"first_name": "A" * 100})
    with pytest.raises(ValidationError, match="at most 100"):
        ws.store.update("contacts", ok["id"], {"last_name": "B" * 101})


def test_long_text_wraps_or_ends_in_an_ellipsis_in_records_and_cards():
    from crm_workspace_contacts.views.common import CSS
    from crm_workspace_pipeline.board import CSS as BOARD_CSS

    assert ".crm-record-title {overflow-wrap: anywhere;" in CSS and "line-clamp: 3" in CSS
    assert ".pl-card-title, .pl-card-who {display: -webkit-box; -webkit-line-clamp: 2" in BOARD_CSS


def test_a_phone_with_letters_is_refused(ws):
    from crm_workspace import ValidationError

    with pytest.raises(ValidationError, match="phone"):
        ws.store.insert("contacts", {"first_name": "Ana", "phone": "12ab"})


def test_sqlite_utils_detects_and_searches_the_contacts_index(ws):
    import sqlite_utils

    org = ws.store.insert("organizations", {"name": "Zürich AG"})
    jose = ws.store.insert("contacts", {"first_name": "José", "last_name": "Núñez", "organization_id": org["id"]})
    ws.store.insert("contacts", {"first_name": "Ann", "last_name": "Other"})
    db = sqlite_utils.Database(ws.path)
    assert db["contacts"].detect_fts() == "contacts_fts"
    assert [r["id"] for r in db["contacts"].search("jose")] == [jose["id"]]
    assert [r["id"] for r in db["contacts"].search("zurich")] == [jose["id"]]  # by its organization's name
    # Datasette's own query for ?_search= on a table with an FTS index
    rows = db.execute(
        "SELECT id FROM contacts WHERE rowid IN (SELECT rowid FROM contacts_fts WHERE contacts_fts MATCH ?)", ["nunez"]
    ).fetchall()
    assert rows == [(jose["id"],)]
    assert ws.search("jose")["title"].str.contains("José").any()  # the app's search is unchanged


def test_home_metric_labels_use_the_workspace_currency(ws):
    labels = {m.key: m.label for m in ws.metrics()}
    assert labels["pipeline_value"] == "Open pipeline (EUR)"
    ws.set_setting("currency", "USD")
    labels = {m.key: m.label for m in ws.metrics()}
    assert (
        labels["pipeline_value"] == "Open pipeline (USD)" and labels["pipeline_weighted"] == "Weighted pipeline (USD)"
    )


def test_the_demo_today_is_never_in_the_future_even_before_nine(monkeypatch):
    from datetime import UTC, datetime

    from crm_workspace.services import demo

    class EarlyMorning(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime(2026, 11, 30, 3, 0, tzinfo=UTC)

    monkeypatch.setattr(demo, "datetime", EarlyMorning)
    assert demo.demo_today() == datetime(2026, 11, 29, 9, 0, tzinfo=UTC)  # yesterday's 09:00, not today's
