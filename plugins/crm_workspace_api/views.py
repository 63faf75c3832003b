"""Every ``ws.df`` view as JSON and CSV (``/api/views/<name>``), run as the token's user.

CSV cells that a spreadsheet would run as a formula (starting with ``= + - @``, a tab or
a carriage return) are prefixed with ``'``, so a downloaded export never executes.
"""

from __future__ import annotations

import json
from typing import Any

from crm_workspace import NotFound

from .records import BadRequest

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def views_listing(ws: Any, base_url: str) -> list[dict]:
    frame = ws.views()
    return [{**row, "url": base_url + row["name"]} for row in frame.to_dict(orient="records")]


def _frame(ws: Any, name: str, args: dict[str, str]) -> Any:
    if name not in ws.data_views():
        raise NotFound(f"no view named '{name}' (GET /api/views lists them)")
    try:
        return ws.df(name, **args)
    except (TypeError, ValueError) as error:  # a parameter the view cannot use
        raise BadRequest(f"view '{name}' cannot use these parameters: {error}") from error


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
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    frame = _frame(ws, name, args).copy()
    for column in frame.columns:
        if not (is_numeric_dtype(frame[column]) or is_bool_dtype(frame[column])):  # text, of any dtype
            frame[column] = frame[column].map(neutralise).astype(object)
    frame.columns = [neutralise(str(c)) for c in frame.columns]
    return frame.to_csv(index=False)
