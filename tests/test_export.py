"""The shared Excel writer: typed cells, layout, and no live formulas."""

import pandas as pd
from openpyxl import load_workbook

from crm_workspace.services.export import to_xlsx_bytes, write_xlsx


def test_export_types_layout_and_formula_neutralisation(tmp_path):
    frame = pd.DataFrame(
        {
            "name": ['=HYPERLINK("http://x","click")', "+1+1", "-2", "@SUM(A1)", "Zoë <b>"],
            "amount": [1.5, 2.0, None, 4.0, 5.25],
            "expected_close": ["2026-01-31", None, "2026-02-01", "not a date", "2026-03-01"],
            "created_at": ["2026-01-01T10:00:00Z"] * 5,
        }
    )
    path = write_xlsx(frame, tmp_path / "out.xlsx", sheet_name="Contacts")
    sheet = load_workbook(path)["Contacts"]
    assert [c.value for c in sheet[1]] == ["name", "amount", "expected_close", "created_at"]
    for row in range(2, 6):
        cell = sheet.cell(row=row, column=1)
        assert cell.data_type == "s", f"row {row} would be a live formula"
    assert sheet.cell(row=2, column=1).value.startswith("=HYPERLINK")
    assert sheet.cell(row=2, column=2).value == 1.5
    assert sheet.cell(row=4, column=2).value is None
    assert sheet.cell(row=2, column=3).is_date
    assert sheet.cell(row=5, column=3).value == "not a date"
    assert sheet.cell(row=2, column=4).is_date
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:D6"
    assert sheet.column_dimensions["A"].width > len("name") + 2


def test_to_xlsx_bytes_is_a_workbook(tmp_path):
    data = to_xlsx_bytes(pd.DataFrame({"a": [1, 2]}), sheet_name="bad/name:*")
    assert data[:2] == b"PK"
    (tmp_path / "x.xlsx").write_bytes(data)
    workbook = load_workbook(tmp_path / "x.xlsx")
    assert workbook.sheetnames == ["bad_name__"]
