"""Retention of ledgers: dropping finished rows in bulk, without copying them into the audit trail.

A ledger (the mail outbox, a webhook delivery log) records each message it handled; left
alone it grows forever. ``store.delete_many`` would audit every deleted row with its whole
content, so pruning a ledger through it would only move each message body (personal data)
into the append-only audit log: the opposite of retention. ``prune`` deletes the rows a
``where`` clause picks, a chunk per transaction, and ``blank`` empties columns of such rows
(a body no longer needed beside counters that still are), both without audit rows or
events: the ledger's own insert was audited, and its policy (the retention setting) is on
record in the settings table. Both check once that the acting user may change ``table``,
refuse append-only tables, and check the table and column names. Retention is a policy
decision, not a colleague's edit: only an admin, the system actor (``as_system``: the
ticks) or setup mode may prune, whatever a member may write row by row. For the ledger
tables of a plugin's own, from its tick or a command, never for a person's records.

The scan: rows are picked a chunk at a time (short write locks). With ``index`` (an index
whose rows are exactly those left to do: a partial index, or one a removed row leaves) each
chunk is read through it (``INDEXED BY``: SQLite refuses the query rather than scan the
table), so an hourly prune that finds nothing to do reads no kept row. Without one the
chunks walk the table in ``walk`` order (the primary key unless given; ``walk`` may name an
indexed column, e.g. a time), each from where the last one ended, so rows kept are read
once per run, not once per chunk. ``plan`` says how SQLite runs a chunk's query (tests).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crm_workspace.data import permissions, schema
from crm_workspace.errors import CrmError, NotFound, PermissionDenied

#: Rows per transaction: short write locks, so a served app's writes go on meanwhile.
CHUNK = 2000


def check_days(value: Any) -> int:
    """A retention setting's check (``Setting(..., check_days, ...)``): whole days, 0 for keeping everything."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value) or value < 0:
        raise ValueError(f"must be a whole number of days (0: keep forever), not {value!r}")
    return int(value)


def _checked(store: Any, table: str, action: str, columns: Sequence[str] = ()) -> str:
    known = store.columns(table)  # NotFound for an unknown table
    if table == "audit_log" or table in schema.APPEND_ONLY or action in store.append_only(table):
        raise CrmError(f"{table} is append-only: {action} refused")
    unknown = [name for name in columns if name not in known]
    if unknown:
        raise NotFound(f"{table} has no column {', '.join(unknown)}")
    rights = permissions.permissions(store)
    rights.check(table, action)  # a viewer, a disabled or unknown user: refused with their reason
    if rights.enforced and rights.role != "admin":
        raise PermissionDenied(f"only an admin may prune {table} ({rights.user} is a {rights.role})")
    return store.primary_key(table)


def prune(
    store: Any,
    table: str,
    where: str,
    params: Sequence[Any] = (),
    *,
    chunk: int = CHUNK,
    index: str | None = None,
    walk: str | None = None,
) -> int:
    """Delete the rows of ``table`` that ``where`` (SQL, with ``?`` params) picks; how many went.

    ``where`` is the caller's own SQL, never a person's text; ``index`` and ``walk``: see the
    module doc.
    """
    pk = _checked(store, table, "delete")
    return _chunked(store, table, pk, where, params, f"DELETE FROM [{table}]", chunk, index, walk)


def blank(
    store: Any,
    table: str,
    columns: Sequence[str],
    where: str,
    params: Sequence[Any] = (),
    *,
    chunk: int = CHUNK,
    index: str | None = None,
    walk: str | None = None,
) -> int:
    """Set ``columns`` to NULL in the rows ``where`` picks that still hold a value; how many changed."""
    pk = _checked(store, table, "update", columns)
    sets = ", ".join(f"[{name}] = NULL" for name in columns)
    statement = f"UPDATE [{table}] SET {sets}"
    return _chunked(store, table, pk, _held(where, columns), params, statement, chunk, index, walk)


def plan(
    store: Any,
    table: str,
    where: str,
    params: Sequence[Any] = (),
    *,
    columns: Sequence[str] = (),
    index: str | None = None,
    walk: str | None = None,
) -> str:
    """How SQLite runs the chunk query of ``prune`` (``blank`` with ``columns``): EXPLAIN QUERY PLAN's lines."""
    pk = store.primary_key(table)
    first, _next, _order = _select(table, pk, _held(where, columns) if columns else where, CHUNK, index, walk)
    return "\n".join(row["detail"] for row in store.query(f"EXPLAIN QUERY PLAN {first}", params))


def _held(where: str, columns: Sequence[str]) -> str:
    held = " OR ".join(f"[{name}] IS NOT NULL" for name in columns)
    return f"({where}) AND ({held})"


def _select(
    table: str, pk: str, where: str, chunk: int, index: str | None, walk: str | None
) -> tuple[str, str, str | None]:
    """A first chunk's SELECT, the next ones', and the column they continue from (None: from what is left)."""
    if index is not None:
        source = f"[{table}] INDEXED BY [{index}]"
        if walk is None:  # the rows done leave the index: each chunk starts from the top of what is left
            sql = f"SELECT [{pk}] FROM {source} WHERE {where} LIMIT {int(chunk)}"
            return sql, sql, None
    else:
        source, walk = f"[{table}]", walk or pk
    columns = f"[{pk}]" if walk == pk else f"[{pk}], [{walk}]"
    order = f"ORDER BY [{walk}] LIMIT {int(chunk)}"
    # from where the last chunk ended (>=: a walk column need not be unique; the rows done are gone)
    return (
        f"SELECT {columns} FROM {source} WHERE {where} {order}",
        f"SELECT {columns} FROM {source} WHERE ({where}) AND [{walk}] >= ? {order}",
        walk,
    )


def _chunked(
    store: Any,
    table: str,
    pk: str,
    where: str,
    params: Sequence[Any],
    statement: str,
    chunk: int,
    index: str | None,
    walk: str | None,
) -> int:
    first, following, order = _select(table, pk, where, chunk, index, walk)
    done, last = 0, None
    while True:
        rows = store.query(*((first, params) if last is None else (following, [*params, last])))
        if not rows:
            return done
        ids = [row[pk] for row in rows]
        with store.transaction():
            marks = ",".join("?" * len(ids))
            # picked again under the write lock: a row changed since the SELECT (requeued) stays
            count = store.conn.execute(f"{statement} WHERE [{pk}] IN ({marks}) AND ({where})", [*ids, *params]).rowcount
        done += count
        if not count:  # every row picked changed meanwhile: the next run sees what is left
            return done
        if order is not None:
            last = rows[-1][order]
