"""Write DataFrames to Excel safely: typed cells, a usable layout, no live formulas.

Every export in the product (a list, a board, a table, a rejects workbook, a
privacy export) goes through here, so spreadsheet formula injection is handled
once: text starting with ``=``, ``+``, ``-`` or ``@`` (a header as much as a value: an
import's headers come from a file someone else wrote) is written as a text cell,
never as a formula.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Sequence, Set
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import pandas

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
MAX_WIDTH = 60


def _cell_value(value: Any) -> Any:
    """A value openpyxl writes as the right type; None for missing."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "to_pydatetime"):  # pandas Timestamp
        value = value.to_pydatetime()
    if isinstance(value, datetime) and value.tzinfo is not None:
        value = value.replace(tzinfo=None)
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalar
        value = value.item()
    return value


def _as_date(column: str, value: Any) -> Any:
    """ISO date(-time) text in a date-like column becomes a real date cell."""
    if not isinstance(value, str) or not (
        column.endswith(("_at", "_close", "date")) or column in ("at", "expected_close")
    ):
        return value
    text = value.strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        return value


def write_sheet(workbook: Any, frame: pandas.DataFrame, sheet_name: str = "Sheet1") -> Any:
    """Add ``frame`` as a sheet: header row, typed cells, widths, frozen header, autofilter."""
    columns = [str(c) for c in frame.columns]
    floats = {i for i, dtype in enumerate(frame.dtypes) if str(dtype).startswith("float")}
    return _write_rows(workbook, columns, frame.itertuples(index=False, name=None), sheet_name, floats)


def _write_rows(
    workbook: Any, columns: list[str], rows: Iterable[Sequence[Any]], sheet_name: str, floats: Set[int] = frozenset()
) -> Any:
    """``write_sheet`` of plain rows; ``floats``: the positions of columns of a float dtype (money formats)."""
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    sheet = workbook.create_sheet(title=_sheet_title(sheet_name))
    sheet.append(columns)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        _as_text(cell)
    widths = [len(c) for c in columns]
    for row in rows:
        values = [_as_date(columns[i], _cell_value(v)) for i, v in enumerate(row)]
        sheet.append(values)
        for i, value in enumerate(values):
            if isinstance(value, str):
                if value.startswith(FORMULA_PREFIXES):
                    _as_text(sheet.cell(row=sheet.max_row, column=i + 1))
                widths[i] = max(widths[i], min(MAX_WIDTH, len(value)))
            elif value is not None:
                widths[i] = max(widths[i], min(MAX_WIDTH, len(str(value))))
    for i, column in enumerate(columns):
        letter = get_column_letter(i + 1)
        sheet.column_dimensions[letter].width = widths[i] + 2
        money = i in floats and column in ("amount", "value", "weighted")
        for cell in sheet[letter][1:]:
            if isinstance(cell.value, datetime):
                cell.number_format = "yyyy-mm-dd hh:mm:ss"
            elif isinstance(cell.value, date):
                cell.number_format = "yyyy-mm-dd"
            elif money:
                cell.number_format = "#,##0.00"
    sheet.freeze_panes = "A2"
    if columns:
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{max(1, sheet.max_row)}"
    return sheet


def _as_text(cell: Any) -> None:
    """A cell whose text looks like a formula is stored as text: never evaluated."""
    from openpyxl.cell.cell import TYPE_STRING

    if isinstance(cell.value, str) and cell.value.startswith(FORMULA_PREFIXES):
        cell.data_type = TYPE_STRING
        cell.quotePrefix = True


def _sheet_title(name: str) -> str:
    cleaned = "".join("_" if ch in "[]:*?/\\" else ch for ch in name).strip() or "Sheet1"
    return cleaned[:31]


class Rows(NamedTuple):
    """A sheet as plain rows under ``columns``: written as a DataFrame of objects would be, without pandas."""

    columns: list[str]
    rows: list[Sequence[Any]]


def _workbook(sheets: dict[str, pandas.DataFrame | Rows]) -> Any:
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.remove(workbook.active)
    for name, frame in sheets.items():
        if isinstance(frame, Rows):
            _write_rows(workbook, [str(c) for c in frame.columns], frame.rows, name)
        else:
            write_sheet(workbook, frame, name)
    return workbook


def to_xlsx_bytes(frame: pandas.DataFrame | Rows, sheet_name: str = "Sheet1") -> bytes:
    """The workbook as bytes (for a dashboard download button)."""
    buffer = io.BytesIO()
    _workbook({sheet_name: frame}).save(buffer)
    return buffer.getvalue()


def write_xlsx(
    frame: pandas.DataFrame | Rows | dict[str, pandas.DataFrame | Rows], path: str | Path, sheet_name: str = "Sheet1"
) -> Path:
    """Write one DataFrame or ``Rows`` (or ``{sheet: frame}``) to ``path``; written atomically."""
    sheets = frame if isinstance(frame, dict) else {sheet_name: frame}
    path = Path(path)
    partial = path.with_name(f".{path.name}.partial")
    try:
        _workbook(sheets).save(partial)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return path
