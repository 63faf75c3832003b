"""The rejects workbook: each rejected row as it was in the file, with its sheet row and the reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .plan import Plan


def frame(plan: Plan):
    """The rejected rows as a DataFrame: ``Row``, the file's columns, ``Reason``."""
    import pandas as pd

    return pd.DataFrame(_records(plan), columns=["Row", *plan.headers, "Reason"], dtype=object)


def _records(plan: Plan) -> list[list[Any]]:
    headers = plan.headers
    records = []
    for index, reason in plan.rejects:
        values = plan.rejected_values[index]
        records.append([plan.row_number(index), *values[: len(headers)], reason])
    return records


def _rows(plan: Plan):
    """``frame`` as plain rows, for the workbook: writing it needs no pandas (~0.4 s to import)."""
    from crm_workspace.services.export import Rows

    columns = ["Row", *plan.headers, "Reason"]
    width = len(columns)
    # a short row is padded at its end, as DataFrame pads it
    rows = [record + [None] * (width - len(record)) for record in _records(plan)]
    return Rows(columns, rows)


def write_rejects(plan: Plan, path: str | Path) -> Path:
    from crm_workspace.services.export import write_xlsx

    return write_xlsx(_rows(plan), path, sheet_name="Rejected rows")


def rejects_bytes(plan: Plan) -> bytes:
    from crm_workspace.services.export import to_xlsx_bytes

    return to_xlsx_bytes(_rows(plan), sheet_name="Rejected rows")
