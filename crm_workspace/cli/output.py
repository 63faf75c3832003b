"""How every listing command prints: a table with headers, ``--json`` or ``--csv``.

One helper, so every list in the ``crm`` command line scripts the same way:
``--json`` is one JSON array of objects (nested values stay nested, never a JSON
string inside JSON), ``--csv`` has a header row, and a terminal gets a table
with headers (tabulate, as sqlite-utils' own CLI prints them).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import click

FORMATS = ("table", "json", "csv")


def output_options(command: Callable) -> Callable:
    """Add ``--json`` and ``--csv`` to a listing command; it receives ``fmt`` ('table', 'json' or 'csv')."""
    command = click.option(
        "--csv", "fmt", flag_value="csv", help="Comma-separated values with a header row, for spreadsheets and scripts."
    )(command)
    command = click.option("--json", "fmt", flag_value="json", help="One JSON array of objects, for scripts.")(command)
    return click.option("--table", "fmt", flag_value="table", default=True, hidden=True)(command)


def _plain(value: Any) -> Any:
    """A value JSON can hold: NaN/NaT as null, dates as ISO text, numpy scalars as Python numbers."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return None if value != value else value.isoformat()  # pandas NaT is a datetime too
    if hasattr(value, "item"):  # numpy and pandas scalars
        try:
            return _plain(value.item())
        except (ValueError, TypeError):
            pass
    try:
        missing = bool(value != value)  # pandas NaT
    except TypeError:  # pandas NA: its comparisons are NA, whose truth is an error
        missing = True
    return None if missing else str(value)


def _cell(value: Any) -> str:
    """How a value reads in a table or a CSV cell."""
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list) and not any(isinstance(v, dict | list) for v in value):
        return ", ".join(_cell(v) for v in value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".") if math.isfinite(value) else str(value)
    return str(value)


def records(rows: Iterable[Mapping[str, Any]] | Any) -> list[dict[str, Any]]:
    """Rows as a list of dicts; a pandas DataFrame is accepted (without importing pandas here)."""
    if hasattr(rows, "to_dict") and hasattr(rows, "columns"):
        return rows.to_dict("records")
    return [dict(row) for row in rows]


def emit(
    rows: Iterable[Mapping[str, Any]] | Any,
    columns: Sequence[str] | None = None,
    fmt: str = "table",
    *,
    empty: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> None:
    """Print ``rows`` (dicts or a DataFrame) as a table, JSON or CSV, in ``columns`` order.

    ``empty`` is the sentence a person reads when there are no rows (JSON still
    prints ``[]`` and CSV its header, so a script reads an empty list).
    ``headers`` relabels columns in the table only; JSON and CSV keep the names.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown output format {fmt!r}")
    rows = records(rows)
    if columns is None:
        columns = list(rows[0]) if rows else []
    columns = list(columns)
    if fmt == "json":
        click.echo(json.dumps([{c: _plain(row.get(c)) for c in columns} for row in rows], ensure_ascii=False, indent=2))
    elif fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([_cell(row.get(c)) for c in columns] for row in rows)
        click.echo(buffer.getvalue(), nl=False)
    elif rows:
        click.echo(table(rows, columns, headers))
    elif empty:
        click.echo(empty)


def table(rows: list[dict[str, Any]], columns: Sequence[str], headers: Mapping[str, str] | None = None) -> str:
    """A plain-text table with a header line; numeric columns aligned right."""
    from tabulate import tabulate

    labels = [(headers or {}).get(c, c) for c in columns]
    body = [[_cell(row.get(c)) for c in columns] for row in rows]
    align = ["right" if _numeric(row.get(c) for row in rows) else "left" for c in columns]
    return tabulate(body, headers=labels, tablefmt="simple", disable_numparse=True, colalign=align)


def _numeric(values: Iterable[Any]) -> bool:
    seen = False
    for value in map(_plain, values):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        seen = True
    return seen
