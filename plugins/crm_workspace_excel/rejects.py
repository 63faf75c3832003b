"""The rejects workbook: each rejected row as it was in the file, with its sheet row and the reason."""

from __future__ import annotations

from pathlib import Path

from .plan import Plan


def frame(plan: Plan):
    """The rejected rows as a DataFrame: ``Row``, the file's columns, ``Reason``."""
    import pandas as pd

    rows = _rows(plan)
    return pd.DataFrame(rows.rows, columns=rows.columns, dtype=object)


def _rows(plan: Plan):
    """The rejected rows as plain rows under their columns: the workbook needs no pandas (~0.4 s to import)."""
    from crm_workspace.services.export import Rows

    headers = plan.headers
    columns = ["Row", *headers, "Reason"]
    rows = []
    for index, reason in plan.rejects:
        record = [plan.row_number(index), *plan.rejected_values[index][: len(headers)], reason]
        rows.append(record + [None] * (len(columns) - len(record)))  # a short row padded at its end
    return Rows(columns, rows)


def write_rejects(plan: Plan, path: str | Path) -> Path:
    from crm_workspace.services.export import write_xlsx

    return write_xlsx(_rows(plan), path, sheet_name="Rejected rows")


def rejects_bytes(plan: Plan) -> bytes:
    from crm_workspace.services.export import to_xlsx_bytes

    return to_xlsx_bytes(_rows(plan), sheet_name="Rejected rows")
