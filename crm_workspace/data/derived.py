"""Rows derived from the write being announced, appended inside its transaction: ``append_derived``.

A ``crm_record_changed`` hook that derives rows from a change (a webhook outbox row,
an index entry) wants them to commit or roll back with that write, at the cost of
an index entry. ``store.insert_many(..., audit=False, events=False, validate=False)``
does that too, with a permission check, id lookups and chunking on top: on a small
write that doubled its cost (benchmarks/bench_webhooks.py). This is the documented
fast path: one prepared INSERT on the Store's connection, allowed only while the
Store announces a write (inside its transaction, holding the write lock), and only
for rows of a table and columns that exist (names are checked, never spliced blind).
Anywhere else it is ``insert_many`` without audit, events or validation, with every
check that implies.
"""

from __future__ import annotations

from typing import Any

from crm_workspace.errors import CrmError

#: (table, column names) -> the INSERT statement, once their names were checked
_STATEMENTS: dict[tuple[str, tuple[str, ...]], str] = {}


def append_derived(store: Any, table: str, rows: list[dict[str, Any]]) -> None:
    """Append ``rows`` (dicts with the same keys) to ``table`` in the announced write's transaction.

    Inside ``crm_record_changed`` (the Store announcing a write, its transaction open) the
    rows go in with one prepared ``executemany``: no audit, no events, no validation, no
    version, exactly like the write's own audit rows. Outside, it is
    ``store.insert_many(table, rows, audit=False, events=False, validate=False)``.
    """
    if not rows:
        return
    announcing = getattr(store.pool._local, "announcing", 0)
    if not announcing or not store.conn.in_transaction:
        store.insert_many(table, rows, audit=False, events=False, validate=False)
        return
    names = tuple(rows[0])
    sql = _STATEMENTS.get((table, names))
    if sql is None:
        declared = store.columns(table)  # NotFound for a table that does not exist
        unknown = [n for n in names if n not in declared]
        if unknown or not names:
            raise CrmError(f"{table} has no column {', '.join(unknown) or '(none named)'}")
        sql = _STATEMENTS[(table, names)] = (
            f"INSERT INTO [{table}] ({', '.join(f'[{n}]' for n in names)}) VALUES ({', '.join('?' * len(names))})"
        )
    store.conn.executemany(sql, [tuple(row[n] for n in names) for row in rows])


__all__ = ["append_derived"]
