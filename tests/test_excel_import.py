"""Excel import: messy sheets, normalization, duplicates, rejects, one transaction, undo, dry run."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from crm_workspace_excel import normalize
from crm_workspace_excel.batches import undo
from crm_workspace_excel.execute import custom_fields, execute
from crm_workspace_excel.plan import plan_import
from crm_workspace_excel.prepare import prepare
from crm_workspace_excel.reader import open_book
from crm_workspace_excel.rejects import write_rejects
from excel_workbooks import deals, messy_contacts, simple
from openpyxl import load_workbook

from crm_workspace import CrmError


def run(ws, path, entity=None, on_duplicate="update", **kwargs):
    prepared = prepare(ws, path, entity=entity, **kwargs)
    plan = plan_import(ws, prepared.table, prepared.entity, prepared.mapping, on_duplicate, file_name=path.name)
    return prepared, plan


def counts(ws):
    return {
        t: ws.store.scalar(f"SELECT count(*) FROM {t}") for t in ("contacts", "organizations", "deals", "audit_log")
    }


# ------------------------------------------------------------- reading
def test_messy_sheet_data_found(tmp_path, workspace):
    book = open_book(messy_contacts(tmp_path / "messy.xlsx"))
    assert book.default_sheet() == "Contacts"  # not the instructions, not the hidden list
    table = book.table()
    assert table.header_row == 2
    assert table.headers[:3] == ["First Name", "Last Name", "Email Address"]
    assert len(table.rows) == 9  # blank row, title, totals and confidential footer left out
    assert [reason for _n, reason in table.skipped] == [
        "footer: Grand Totals (10 records)",
        "footer: Confidential Information - Do Not Distribute",
    ]
    grace = next(r for r in table.rows if r[0] == "Grace")
    assert grace[4] == "Haddad & Sons"  # merged cell filled down


def test_mapping_guessed_from_common_export_headers(tmp_path, workspace):
    prepared, _ = run(workspace, messy_contacts(tmp_path / "m.xlsx"))
    assert prepared.entity == "contacts"
    assert prepared.mapping == {
        "First Name": "first_name",
        "Last Name": "last_name",
        "Email Address": "email",
        "Phone": "phone",
        "Company Name": "organization",
        "Lifecycle Stage": "lifecycle_stage",
        "Create Date": "created_at",
        "Notes": "notes",
    }
    path = simple(
        tmp_path / "f.xlsx", ["Frist Name", "Surname", "E-Mail Adress", "Acount Name"], [["a", "b", "a@b.co", "X"]]
    )
    prepared, _ = run(workspace, path)
    assert prepared.mapping == {
        "Frist Name": "first_name",
        "Surname": "last_name",
        "E-Mail Adress": "email",
        "Acount Name": "organization",
    }


def test_plugin_aliases_are_used(tmp_path, workspace):
    class Aliases:
        from crm_workspace import hookimpl

        @hookimpl
        def crm_field_aliases(self):
            return {"contacts": {"email": ["Courriel"]}}

    workspace.register(Aliases(), name="aliases")
    path = simple(tmp_path / "a.xlsx", ["Prénom", "Nom", "Courriel"], [["Léa", "Berg", "lea@example.com"]])
    prepared, _ = run(workspace, path)
    assert prepared.mapping["Courriel"] == "email"


# --------------------------------------------------------- normalization
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (dt.datetime(2024, 3, 5), "2024-03-05"),
        (dt.datetime(2024, 3, 5, 14, 30), "2024-03-05T14:30:00Z"),
        (45000, "2023-03-15"),
        ("2024-03-05", "2024-03-05"),
        ("03/25/2024", "2024-03-25"),
        ("25.03.2024", "2024-03-25"),
        ("March 5, 2024", "2024-03-05"),
        ("5 Mar 2024", "2024-03-05"),
        ("N/A", None),
    ],
)
def test_dates(value, expected):
    assert normalize.date_value(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1234.5, (1234.5, None)),
        ("$1,234.50", (1234.5, "USD")),
        ("1.234,50 €", (1234.5, "EUR")),
        ("EUR 12 500", (12500.0, "EUR")),
        ("(300)", (-300.0, None)),
        ("12k", (12000.0, None)),
        ("-", (None, None)),
    ],
)
def test_amounts(value, expected):
    assert normalize.amount(value) == expected


def test_phones_emails_and_na():
    assert normalize.phone(4930123456.0, "DE") == "+4930123456"
    assert normalize.phone(493012345678.0) == "+493012345678"  # a float that lost its "+"
    assert normalize.phone("(212) 555-0123", "US") == "+12125550123"
    assert normalize.phone("+44 20 7946 0958") == "+442079460958"
    assert normalize.phone("ask reception") == "ask reception"  # kept, never lost
    assert normalize.email("  Ana@Example.COM ") == "ana@example.com"
    assert normalize.email("Ana <ana@example.com>") == "ana@example.com"
    with pytest.raises(normalize.BadValue):
        normalize.email("ana@example")
    for blank in ("N/A", "n/a", "-", "", "  ", None):
        assert normalize.text(blank) is None
    assert normalize.text("  Zoë   Ünal ") == "Zoë Ünal"


# ------------------------------------------------------------- importing
def test_messy_import_end_to_end(tmp_path, workspace):
    _, plan = run(workspace, messy_contacts(tmp_path / "m.xlsx"))
    assert plan.counts == {
        "created": 6,
        "updated": 0,
        "unchanged": 0,
        "skipped": 1,
        "rejected": 2,
        "organizations_created": 3,
    }
    reasons = dict((plan.row_number(i), r) for i, r in plan.rejects)
    assert "not an email address" in reasons[5]
    assert "first or last name" in reasons[10]
    batch = execute(workspace, plan)
    ana = workspace.store.query("SELECT * FROM contacts WHERE email = 'ana@example.com'")[0]
    assert ana["first_name"] == "Ana" and ana["last_name"] == "García-López"  # later duplicate merged in
    assert ana["phone"] == "+4930123456"  # a float that lost its "+" (default region DE)
    assert ana["lifecycle_stage"] == "customer" and ana["notes"] is None
    chloe = workspace.store.query("SELECT * FROM contacts WHERE email = 'chloe@example.com'")[0]
    assert chloe["created_at"] == "2024-03-25" and chloe["phone"] == "+442079460958"
    orgs = [r["name"] for r in workspace.store.query("SELECT name FROM organizations ORDER BY name")]
    assert orgs == ["Acme GmbH", "Haddad & Sons", "Zeta Ltd"]  # "acme  gmbh" is the same organization
    grace = workspace.store.query(
        "SELECT o.name FROM contacts c JOIN organizations o ON o.id = c.organization_id WHERE c.first_name = 'Grace'"
    )
    assert grace == [{"name": "Haddad & Sons"}]
    row = workspace.store.query("SELECT * FROM import_batches WHERE id = ?", [batch])[0]
    assert (row["created"], row["updated"], row["skipped"], row["rejected"], row["status"]) == (6, 0, 1, 2, "done")
    tagged = workspace.store.query("SELECT changes FROM audit_log WHERE table_name = 'contacts'")
    assert all(json.loads(r["changes"])["context"]["import_batch"] == batch for r in tagged)
    events = workspace.store.scalar("SELECT count(*) FROM lifecycle_events")
    assert events == 6  # the lifecycle tracker saw every imported stage


def test_rejects_workbook_has_original_row_and_reason(tmp_path, workspace):
    _, plan = run(workspace, messy_contacts(tmp_path / "m.xlsx"))
    path = write_rejects(plan, tmp_path / "rejects.xlsx")
    sheet = load_workbook(path).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("Row", "First Name", "Last Name", "Email Address") and rows[0][-1] == "Reason"
    assert rows[1][0] == 5 and rows[1][3] == "bob@example" and "not an email address" in rows[1][-1]


def test_duplicates_against_database(tmp_path, workspace):
    workspace.store.insert(
        "contacts", {"first_name": "Ana", "last_name": "Old", "email": "ana@example.com", "title": "CTO"}
    )
    path = simple(
        tmp_path / "d.xlsx",
        ["First Name", "Last Name", "Email", "Title"],
        [["Ana", "New", "ANA@EXAMPLE.COM", ""], ["Bo", "Lee", "bo@example.com", "CEO"]],
    )
    _, plan = run(workspace, path, on_duplicate="skip")
    assert (len(plan.creates), len(plan.skipped)) == (1, 1)
    _, plan = run(workspace, path, on_duplicate="create")
    assert len(plan.creates) == 1 and "already used by contact" in plan.rejects[0][1]
    _, plan = run(workspace, path, on_duplicate="update")
    assert len(plan.updates) == 1
    _row, _id, changes, before = plan.updates[0]
    assert changes == {"last_name": "New"} and before == {"last_name": "Old"}  # empty cells keep values
    execute(workspace, plan)
    assert workspace.store.scalar("SELECT count(*) FROM contacts WHERE lower(email) = 'ana@example.com'") == 1
    assert workspace.store.query("SELECT last_name, title FROM contacts WHERE email = 'ana@example.com'") == [
        {"last_name": "New", "title": "CTO"}
    ]


def test_dry_run_writes_nothing_and_matches_the_import(tmp_path, workspace):
    workspace.store.insert("contacts", {"first_name": "Eva", "last_name": "Old", "email": "eva@example.com"})
    before = counts(workspace)
    _, plan = run(workspace, messy_contacts(tmp_path / "m.xlsx"))
    assert counts(workspace) == before
    lines = "\n".join(plan.details())
    assert "update contacts" in lines and "last_name: 'Old' → 'Novak'" in lines
    expected = plan.counts
    execute(workspace, plan)
    assert counts(workspace)["contacts"] == before["contacts"] + expected["created"]


def test_an_update_edited_since_the_plan_is_checked_again_as_it_is_written(tmp_path, workspace):
    """The plan's validator vouches for the records as they were planned, not for one edited since."""
    from crm_workspace import hookimpl

    store = workspace.store
    eva = store.insert("contacts", {"first_name": "Eva", "last_name": "Old", "email": "eva@example.com"})
    store.insert("contacts", {"first_name": "Bo", "last_name": "Old", "email": "bo@example.com"})
    path = simple(tmp_path / "u.xlsx", ["Email", "Title"], [["eva@example.com", "CEO"], ["bo@example.com", "CTO"]])
    _, plan = run(workspace, path)
    checked = []

    class Spy:
        @hookimpl
        def crm_validate_record(self, workspace, table, record, before):
            if table == "contacts":
                checked.append(before["email"] if before else None)

    workspace.register(Spy(), "spy")
    store.update("contacts", eva["id"], {"last_name": "Edited"})  # while the preview was open
    checked.clear()
    execute(workspace, plan)
    assert checked == ["eva@example.com"]  # only the record changed since the plan
    assert [r["title"] for r in workspace.query("SELECT title FROM contacts ORDER BY id")] == ["CEO", "CTO"]


def test_failure_half_way_leaves_database_untouched(tmp_path, workspace):
    before = counts(workspace)
    _, plan = run(workspace, messy_contacts(tmp_path / "m.xlsx"))

    class Boom:
        from crm_workspace import hookimpl

        @hookimpl
        def crm_record_changed(self, changes):
            if any(c.table == "contacts" for c in changes):
                raise RuntimeError("disk on fire")

    workspace.register(Boom(), name="boom")
    with pytest.raises(CrmError):
        execute(workspace, plan)
    assert counts(workspace) == before
    assert workspace.store.scalar("SELECT count(*) FROM import_batches") == 0


def test_deals_link_organization_and_contact(tmp_path, workspace):
    workspace.store.insert("contacts", {"first_name": "Ana", "last_name": "G", "email": "ana@example.com"})
    workspace.store.insert("contacts", {"first_name": "Chloé", "last_name": "Ünal", "email": "c@example.com"})
    _, plan = run(workspace, deals(tmp_path / "deals.xlsx"))
    assert plan.entity == "deals"
    reasons = [r for _i, r in plan.rejects]
    assert any("not an amount" in r for r in reasons) and any("no contact matches" in r for r in reasons)
    execute(workspace, plan)
    rows = workspace.store.query(
        "SELECT d.title, d.amount, d.currency, d.stage, d.status, d.probability, d.expected_close, o.name AS org,"
        " c.email FROM deals d JOIN organizations o ON o.id = d.organization_id JOIN contacts c ON c.id = d.contact_id"
        " ORDER BY d.title"
    )
    assert rows == [
        {
            "title": "Big renewal",
            "amount": 12500.5,
            "currency": "EUR",
            "stage": "proposal",
            "status": "open",
            "probability": 50.0,
            "expected_close": "2024-12-31",
            "org": "Acme GmbH",
            "email": "ana@example.com",
        },
        {
            "title": "New logo",
            "amount": 1200.0,
            "currency": "USD",
            "stage": "won",
            "status": "won",
            "probability": 90.0,
            "expected_close": "2024-06-01",
            "org": "Newco",
            "email": "c@example.com",
        },
    ]


def test_map_options_and_errors(tmp_path, workspace):
    path = simple(tmp_path / "x.xlsx", ["Who", "Mail", "Comment"], [["Ana Lopez", "a@example.com", "hi"]])
    prepared, plan = run(workspace, path, entity="contacts", map_options=["Who=full_name", "Comment="])
    assert prepared.mapping["Who"] == "full_name" and prepared.mapping["Comment"] is None
    assert plan.creates[0].record == {"first_name": "Ana", "last_name": "Lopez", "email": "a@example.com"}
    with pytest.raises(CrmError, match="no column named 'Nope'"):
        run(workspace, path, entity="contacts", map_options=["Nope=email"])
    with pytest.raises(CrmError, match="no field 'shoe_size'"):
        run(workspace, path, entity="contacts", map_options=["Who=shoe_size"])


# ------------------------------------------------------------------ undo
def test_undo_restores_and_deletes(tmp_path, workspace):
    old = workspace.store.insert("contacts", {"first_name": "Eva", "last_name": "Old", "email": "eva@example.com"})
    before = counts(workspace)
    _, plan = run(workspace, messy_contacts(tmp_path / "m.xlsx"))
    batch = execute(workspace, plan)
    assert workspace.store.get("contacts", old["id"])["last_name"] == "Novak"
    result = undo(workspace, batch)
    assert result == {"deleted": 8, "restored": 1}  # 5 contacts + 3 organizations; Eva restored
    after = counts(workspace)
    assert (after["contacts"], after["organizations"]) == (before["contacts"], before["organizations"])
    assert workspace.store.get("contacts", old["id"])["last_name"] == "Old"
    with pytest.raises(CrmError, match="already undone"):
        undo(workspace, batch)
    with pytest.raises(CrmError, match="no import batch"):
        undo(workspace, "nope")


def test_undo_refuses_after_later_edits(tmp_path, workspace):
    _, plan = run(workspace, messy_contacts(tmp_path / "m.xlsx"))
    batch = execute(workspace, plan)
    chloe = workspace.store.query("SELECT id, version FROM contacts WHERE email = 'chloe@example.com'")[0]
    workspace.store.update("contacts", chloe["id"], {"title": "CEO"}, version=chloe["version"])
    before = counts(workspace)
    with pytest.raises(CrmError, match=r"1 of its records were changed since \(contacts #\d+ "):
        undo(workspace, batch)
    assert counts(workspace) == before


def test_recipes(tmp_path, workspace):
    from crm_workspace_excel import recipes

    path = simple(tmp_path / "r.xlsx", ["Who", "Mail"], [["Ana Lopez", "a@example.com"]])
    prepared, _ = run(workspace, path, entity="contacts", map_options=["Who=full_name", "Mail=email"])
    recipes.save(workspace, "monthly", "contacts", prepared.mapping, sheet="Sheet1", on_duplicate="skip")
    again = prepare(workspace, path, recipe=recipes.load(workspace, "monthly"))
    assert again.mapping == {"Who": "full_name", "Mail": "email"} and again.entity == "contacts"
    with pytest.raises(CrmError, match="no mapping recipe named 'nope'"):
        recipes.load(workspace, "nope")


def test_unmapped_columns_kept_as_custom_fields(tmp_path, workspace):
    path = simple(
        tmp_path / "c.xlsx",
        ["First Name", "Last Name", "Email", "Shoe Size", "Twitter"],
        [["Ana", "G", "ana@example.com", 38, "@ana"], ["Bo", "L", "bo@example.com", "N/A", "@bo"]],
    )
    prepared, plan = run(workspace, path, map_options=["Shoe Size=custom", "Twitter=custom"])
    assert prepared.mapping["Shoe Size"] == "custom" and prepared.mapping["Twitter"] == "custom"
    batch = execute(workspace, plan)
    ana = workspace.store.scalar("SELECT id FROM contacts WHERE email = 'ana@example.com'")
    bo = workspace.store.scalar("SELECT id FROM contacts WHERE email = 'bo@example.com'")
    assert custom_fields(workspace, "contacts", ana) == {"Shoe Size": "38", "Twitter": "@ana"}
    assert custom_fields(workspace, "contacts", bo) == {"Twitter": "@bo"}
    # a second import updates the kept value; undo puts it back
    path = simple(tmp_path / "d.xlsx", ["Email", "Twitter"], [["ana@example.com", "@ana_new"]])
    _, plan = run(workspace, path, entity="contacts", map_options=["Twitter=custom"])
    assert len(plan.updates) == 1
    second = execute(workspace, plan)
    assert custom_fields(workspace, "contacts", ana)["Twitter"] == "@ana_new"
    undo(workspace, second)
    assert custom_fields(workspace, "contacts", ana)["Twitter"] == "@ana"
    undo(workspace, batch)
    assert workspace.store.scalar("SELECT count(*) FROM excel_custom_fields") == 0


def test_import_page_model_flow(tmp_path, workspace):
    from crm_workspace_excel.model import ImportModel

    model = ImportModel(workspace=workspace)
    model.load(b"PK\x03\x04 not really", "broken.xlsx")
    assert "damaged zip" in model.error and model.table is None
    model.load(messy_contacts(tmp_path / "m.xlsx").read_bytes(), "m.xlsx")
    assert model.error == "" and model.sheet == "Contacts" and model.header_row == 3
    assert ("Bob" in str(model.table.rows[1])) and model.preview_plan.problems  # bad email marked in the preview
    model.set_field("Notes", "custom")
    model.set_field("Create Date", None)
    plan = model.dry_run()
    assert plan.counts["created"] == 6 and workspace.store.scalar("SELECT count(*) FROM contacts") == 0
    batch = model.run_import()
    assert batch and model.progress == 100
    assert workspace.store.scalar("SELECT count(*) FROM contacts") == 6
    assert load_workbook(io.BytesIO(model.rejects_bytes())).active.max_row == 3
    model.sheet = "Instructions"  # another sheet: detected again, mapping guessed again
    assert model.table.sheet == "Instructions"
    assert model.undo(batch) == {"deleted": 11, "restored": 0}  # 6 contacts, 3 organizations, 2 custom fields


def test_contacts_without_email_match_by_name_and_organization(tmp_path, workspace):
    org = workspace.store.insert("organizations", {"name": "Acme GmbH"})
    workspace.store.insert("contacts", {"first_name": "Ana", "last_name": "Lopez", "organization_id": org["id"]})
    path = simple(
        tmp_path / "n.xlsx",
        ["First Name", "Last Name", "Company", "Title"],
        [["Ana", "Lopez", "acme  gmbh", "CEO"], ["Ana", "Lopez", "Other Co", "CTO"]],
    )
    _, plan = run(workspace, path)
    assert len(plan.updates) == 1 and plan.updates[0][2] == {"title": "CEO"}
    assert len(plan.creates) == 1  # same name, another organization: another person
    _, plan = run(workspace, path, on_duplicate="create")
    assert len(plan.creates) == 2


def test_import_page_keeps_its_mapping_widgets_in_place(tmp_path, workspace):
    """Mapping changes and refreshes update the one mapping section; nothing is re-drawn or moved.

    Re-drawing it on each change moved the recipe row between layouts and replaced the
    select just used; with a refresh from another connection's write in between, the
    browser got messages about models it no longer had ("reference pNNNN isn't known").
    """
    from crm_workspace_excel import recipes
    from crm_workspace_excel.views import SKIP, ImportPage

    page = ImportPage(workspace=workspace)
    layout = page.__panel__()
    assert page.mapping_section in layout.objects and not page.mapping_section.visible
    path = simple(tmp_path / "s.xlsx", ["Given", "Surname", "E-mail"], [["Ines", "Okafor", "i@example.net"]])
    page.model.load(path.read_bytes(), "s.xlsx")
    assert page.mapping_section.visible
    selects = list(page.mapping_box.objects)
    recipe_row = page.mapping_section.objects[2]
    assert [s.label for s in selects] == ["Given", "Surname", "E-mail"]
    assert selects[0].value == SKIP and selects[2].value == "email"

    selects[0].value = "last_name"  # takes the field from "Surname", whose select follows
    assert page.model.mapping["Given"] == "last_name" and selects[1].value == SKIP
    recipes.save(workspace, "elsewhere", "contacts", {"Given": "first_name"})  # a write, then a refresh
    workspace.revision += 1
    assert page.recipe_select.options == ["elsewhere"]
    page.model.set_field("Given", "first_name")
    assert selects[0].value == "first_name"
    assert all(a is b for a, b in zip(page.mapping_box.objects, selects, strict=True))
    assert page.mapping_section.objects[2] is recipe_row
    assert all(w in recipe_row.objects for w in (page.recipe_name, page.save_recipe, page.recipe_select))

    page.model.entity = "organizations"  # other fields: new selects, in the same box
    assert page.mapping_box.objects[0] is not selects[0] and page.mapping_section.objects[2] is recipe_row
    assert [s.label for s in page.mapping_box.objects] == ["Given", "Surname", "E-mail"]
