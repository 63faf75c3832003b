"""Writing many rows a statement: multi-row INSERT and UPDATE ... FROM (VALUES ...).

Each statement on a table with constraints and triggers opens a statement
savepoint, and FTS5 writes its pending index to disk at every savepoint: one row
per statement (``executemany``) made the contacts search index cost ~80 µs a
row; a few hundred rows per statement, ~10 µs (and a couple of thousand, less again).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator
from itertools import chain
from operator import itemgetter
from typing import Any

#: Rows a statement writes at most (fewer when they would exceed SQLite's bound-parameter limit).
#: The contacts search index flushes at every statement: measured on the 89k new contacts of the
#: 100k import benchmark (4 runs each, CPU), 500 a statement took 3.7-4.9 s, 2000 took 3.5-4.3 s.
ROWS_PER_STATEMENT = 2000


def rows_per_statement(conn: sqlite3.Connection, values_per_row: int) -> int:
    return max(1, min(ROWS_PER_STATEMENT, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // values_per_row))


def insert_rows(conn: sqlite3.Connection, table: str, names: list[str], rows: list[dict]) -> None:
    """Insert ``rows``, which all give exactly the fields ``names``, many rows per statement."""
    if not names:
        for _row in rows:
            conn.execute(f"INSERT INTO [{table}] DEFAULT VALUES")
        return
    per_statement = rows_per_statement(conn, len(names))
    one = "(" + ", ".join("?" * len(names)) + ")"
    head = "INSERT INTO [{}] ({}) VALUES ".format(table, ", ".join(f"[{n}]" for n in names))
    full = head + ", ".join([one] * per_statement)
    pick = itemgetter(*names) if len(names) > 1 else (lambda row: (row[names[0]],))
    for start in range(0, len(rows), per_statement):
        part = rows[start : start + per_statement]
        sql = full if len(part) == per_statement else head + ", ".join([one] * len(part))
        conn.execute(sql, list(chain.from_iterable(map(pick, part))))


def update_rows(
    conn: sqlite3.Connection, table: str, pk: str, names: tuple[str, ...], group: list[tuple[Any, dict]]
) -> None:
    """``UPDATE ... FROM (VALUES ...)`` of ``(id, changes)`` pairs that all change the fields ``names``.

    The rows are written in id order (each id is in ``group`` once): neighbours in the table
    share its pages, which an import's scattered updates otherwise visit in a random order.
    """
    with contextlib.suppress(TypeError):  # ids of mixed types keep their order
        group = sorted(group, key=itemgetter(0))
    per_statement = rows_per_statement(conn, len(names) + 1)
    assignments = ", ".join(f"[{name}] = v.column{i + 2}" for i, name in enumerate(names))
    one = "(" + ", ".join("?" * (len(names) + 1)) + ")"
    for start in range(0, len(group), per_statement):
        part = group[start : start + per_statement]
        conn.execute(
            f"UPDATE [{table}] SET {assignments} FROM (VALUES {', '.join([one] * len(part))}) AS v"
            f" WHERE [{table}].[{pk}] = v.column1",
            [value for row_id, stamped in part for value in (row_id, *(stamped[n] for n in names))],
        )


def by_shape(rows: list[dict]) -> dict[tuple[str, ...], list[dict]]:
    """Rows grouped by the fields they give, in first-seen order.

    One INSERT names one column list; a row written with a column it did not give
    would store NULL there instead of the schema's default. A batch of one shape
    (the usual case) stays one group; rows of a few shapes in turn (an optional
    column filled in some rows) sort each key order once.
    """
    groups: dict[tuple[str, ...], list[dict]] = {}
    shape_of: dict[tuple[str, ...], list[dict]] = {}  # the fields in a row's own order → its group
    last_keys: Any = None
    last_group: list[dict] = []
    for row in rows:
        keys = row.keys()
        if keys != last_keys:
            last_keys = keys
            order = tuple(keys)
            group = shape_of.get(order)
            if group is None:
                group = shape_of[order] = groups.setdefault(tuple(sorted(order)), [])
            last_group = group
        last_group.append(row)
    return groups


def chunks(records: Iterable[dict], size: int) -> Iterator[list[dict]]:
    chunk: list[dict] = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
