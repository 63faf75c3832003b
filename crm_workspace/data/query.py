"""The SQL behind ``Workspace.df(table, ...)``: a table read with the analyst's filters.

Built here, below the Workspace, so the facade only chooses between a named view,
a table and raw SQL.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crm_workspace.data.store import Store

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def is_table_name(source: str) -> bool:
    return bool(_IDENTIFIER.fullmatch(source))


def is_view_name(source: str) -> bool:
    """``plugin.view``: a dotted name without spaces (an SQL query has spaces)."""
    return "." in source and " " not in source


def table_select(store: Store, table: str, params: dict[str, Any]) -> str:
    """``SELECT`` of ``table`` with the keywords ``columns``, ``where``, ``order_by``, ``limit``, ``offset``.

    Those keywords are taken out of ``params``; what is left binds ``:name``
    parameters of ``where``. An unknown table raises NotFound.
    """
    store.columns(table)  # NotFound for an unknown table
    columns = params.pop("columns", None)
    sql = "SELECT {} FROM [{}]".format(", ".join(f"[{c}]" for c in columns) if columns else "*", table)
    if where := params.pop("where", None):
        sql += f" WHERE {where}"
    if order_by := params.pop("order_by", None):
        sql += f" ORDER BY {order_by}"
    if (limit := params.pop("limit", None)) is not None:
        sql += f" LIMIT {int(limit)}"
        if (offset := params.pop("offset", None)) is not None:
            sql += f" OFFSET {int(offset)}"
    return sql
