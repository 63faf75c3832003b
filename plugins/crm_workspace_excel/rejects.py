"""The rejects workbook: each rejected row as it was in the file, with its sheet row and the reason."""

from __future__ import annotations

from pathlib import Path

from .plan import Plan


def frame(plan: Plan):
    """The rejected rows as a DataFrame: ``Row``, the file's columns, ``Reason``."""
    import pandas as pd

    headers = plan.headers
    records = []
    for index, reason in plan.rejects:
        values = plan.rejected_values[index]
        records.append([plan.row_number(index), *values[: len(headers)], reason])
    return pd.DataFrame(records, columns=["Row", *headers, "Reason"], dtype=object)


def write_rejects(plan: Plan, path: str | Path) -> Path:
    from crm_workspace.services.export import write_xlsx

    return write_xlsx(frame(plan), path, sheet_name="Rejected rows")


def rejects_bytes(plan: Plan) -> bytes:
    from crm_workspace.services.export import to_xlsx_bytes

    return to_xlsx_bytes(frame(plan), sheet_name="Rejected rows")
