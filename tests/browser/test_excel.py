"""The import page in Chromium: upload, adjust a mapping, dry run, import, result, rejects, undo."""

from __future__ import annotations

import re

from conftest import open_page
from excel_workbooks import simple
from openpyxl import load_workbook

from crm_workspace import Workspace


def test_upload_map_dry_run_import_rejects_undo(page, served_demo, tmp_path):
    book = simple(
        tmp_path / "leads.xlsx",
        ["Given", "Surname", "E-mail", "Remarks"],
        [
            ["Zoë", "Ünal", "ZOE.UNAL@example.org", "met at fair"],
            ["Bad", "Row", "not-an-email", ""],
            ["Yuki", "Sato", "yuki.sato@example.org", "<b>bold</b>"],
        ],
    )
    open_page(page, served_demo, "excel")
    page.get_by_text("Upload a spreadsheet").wait_for()
    page.locator("input[type=file]").set_input_files(str(book))
    page.get_by_text("header on row").wait_for()
    assert page.get_by_text("3 data rows").is_visible()
    # "Given" is not a known header: map it by hand
    page.get_by_text("Given", exact=True).first.wait_for()
    mapping = page.locator(".bk-input-group").filter(has_text="Given").locator("select")
    mapping.select_option("first_name")
    page.get_by_text("→ first_name").wait_for()  # the preview header follows the mapping
    assert page.locator("table.import-preview b").count() == 0  # cell text is escaped, never HTML
    page.get_by_role("button", name="Dry run").click()
    page.get_by_text("Dry run — nothing written yet").wait_for()
    page.get_by_text("2 created, 0 updated, 0 unchanged, 0 skipped, 1 rejected").wait_for()
    page.get_by_text("not an email address").first.wait_for()
    ws = Workspace.open(served_demo.db, user="check", load_plugins=False)
    assert ws.store.scalar("SELECT count(*) FROM contacts WHERE email LIKE '%@example.org'") == 0

    page.get_by_role("button", name="Import", exact=True).click()
    page.get_by_text("Imported — batch").wait_for()
    rows = ws.store.query("SELECT first_name, last_name FROM contacts WHERE email = 'zoe.unal@example.org'")
    assert rows == [{"first_name": "Zoë", "last_name": "Ünal"}]
    with page.expect_download() as info:
        page.get_by_text("Download rejects").click()
    target = tmp_path / "rejects.xlsx"
    info.value.save_as(target)
    values = list(load_workbook(target).active.iter_rows(values_only=True))
    assert values[1][3] == "not-an-email" and "not an email address" in values[1][-1]

    page.get_by_role("button", name="Undo batch").click()
    page.get_by_text(re.compile(r"^Undone \S+: 2 deleted, 0 restored")).wait_for()
    assert ws.store.scalar("SELECT count(*) FROM contacts WHERE email LIKE '%@example.org'") == 0
    ws.close()


def test_a_viewer_uploading_a_hostile_workbook_cannot_take_the_server_down(page, browser, demo_template, tmp_path):
    """Cells at the grid's far corner used to abort `crm serve` for everyone (calamine: 512 GiB)."""
    import shutil

    from conftest import Server
    from excel_workbooks import far_corner

    db = tmp_path / "crm.db"
    shutil.copy(demo_template, db)
    server = Server(db, env={"CRM_USER": "eve"})  # eve is a viewer in the demo; the tick runs meanwhile
    try:
        open_page(page, server, "excel")
        upload = page.locator("input[type=file]")
        upload.set_input_files(str(far_corner(tmp_path / "corner.xlsx", "XFD1048576")))
        page.get_by_text("header on row").wait_for()  # read cell by cell: its real rows, no 512 GiB grid
        page.get_by_text("Ana", exact=True).first.wait_for()
        upload.set_input_files(str(far_corner(tmp_path / "beyond.xlsx", "XFE1048577")))
        page.get_by_text("lies outside Excel's grid").first.wait_for()  # one clear line
        other = browser.new_page()
        try:
            open_page(other, server, "home")  # another session is still served
        finally:
            other.close()
        assert server.process.poll() is None
    finally:
        server.stop()


def test_an_import_survives_writes_from_another_connection_mid_mapping(page, served_demo, tmp_path):
    """Another connection writing while the mapping is shown used to break the page
    (Bokeh: "reference pNNNN isn't known"): the session's refresh re-drew the mapping and
    moved its persistent widgets between layouts."""
    from crm_workspace_excel import recipes

    book = simple(
        tmp_path / "fair.xlsx",
        ["Given", "Surname", "E-mail"],
        [["Ines", "Okafor", "ines.okafor@example.net"], ["Jon", "Berg", "jon.berg@example.net"]],
    )
    open_page(page, served_demo, "excel")
    page.get_by_text("Upload a spreadsheet").wait_for()
    page.locator("input[type=file]").set_input_files(str(book))
    page.get_by_text("header on row").wait_for()
    given = page.locator(".bk-input-group").filter(has_text="Given").locator("select")
    given.select_option("first_name")
    page.get_by_text("→ first_name").wait_for()

    other = Workspace.open(served_demo.db, user="ana")
    try:
        contact = other.store.scalar("SELECT min(id) FROM contacts")
        other.store.update("contacts", contact, {"title": "Changed elsewhere"})
        recipes.save(other, "from elsewhere", "contacts", {"Given": "first_name"})
        # the session's refresh shows the recipe saved elsewhere: proof the write was seen mid-mapping
        page.locator("select").filter(has=page.locator("option", has_text="from elsewhere")).wait_for(timeout=30_000)
        other.store.update("contacts", contact, {"title": "Changed again"})
        given.select_option("last_name")  # re-map after the refresh: the widgets are still live
        page.get_by_text("→ last_name").wait_for()
        given.select_option("first_name")
        page.get_by_text("→ first_name").wait_for()
        page.get_by_role("button", name="Dry run").click()
        page.get_by_text("2 created, 0 updated").wait_for()
        page.get_by_role("button", name="Import", exact=True).click()
        page.get_by_text("Imported — batch").wait_for()
        rows = other.store.query("SELECT first_name FROM contacts WHERE email LIKE '%@example.net' ORDER BY 1")
        assert rows == [{"first_name": "Ines"}, {"first_name": "Jon"}]
        assert not page.get_by_text("isn't known").count()
    finally:
        other.close()
