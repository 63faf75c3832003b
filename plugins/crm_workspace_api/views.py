"""Every ``ws.df`` view as JSON and CSV (``/api/views/<name>``), run as the token's user.

CSV cells that a spreadsheet would run as a formula (starting with ``= + - @``, a tab or
a carriage return) are prefixed with ``'``, so a downloaded export never executes.
"""

from __future__ import annotations

import json
from typing import Any

from crm_workspace import NotFound

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def views_listing(ws: Any, base_url: str) -> list[dict]:
    frame = ws.views()
    return [{**row, "url": base_url + row["name"]} for row in frame.to_dict(orient="records")]


def _frame(ws: Any, name: str, args: dict[str, str]) -> Any:
    if name not in ws.data_views():
        raise NotFound(f"no view named '{name}' (GET /api/views lists them)")
    return ws.df(name, **args)


def view_json(ws: Any, name: str, args: dict[str, str]) -> str:
    frame = _frame(ws, name, args)
    data = frame.to_json(orient="records", date_format="iso", default_handler=str)
    head = json.dumps({"name": name, "columns": [str(c) for c in frame.columns], "count": len(frame)})
    return head[:-1] + ',"data":' + data + "}"


def neutralise(value: Any) -> Any:
    """A cell as text a spreadsheet shows, never runs: ``=SUM(1)`` becomes ``'=SUM(1)``."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def view_csv(ws: Any, name: str, args: dict[str, str]) -> str:
    frame = _frame(ws, name, args)
    frame = frame.copy()
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = frame[column].map(neutralise)
    frame.columns = [neutralise(str(c)) for c in frame.columns]
    return frame.to_csv(index=False)
