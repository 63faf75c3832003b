"""Retention of ledgers: dropping finished rows in bulk, without copying them into the audit trail.

A ledger (the mail outbox, a webhook delivery log) records each message it handled; left
alone it grows forever. ``store.delete_many`` would audit every deleted row with its whole
content, so pruning a ledger through it would only move each message body (personal data)
into the append-only audit log: the opposite of retention. ``prune`` deletes the rows a
``where`` clause picks, a chunk per transaction, and ``blank`` empties columns of such rows
(a body no longer needed beside counters that still are), both without audit rows or
events: the ledger's own insert was audited, and its policy (the retention setting) is on
record in the settings table. Both check once that the acting user is an admin (a tick's
system actor is; a member, who may delete a row only on the audited path, may not erase a
ledger unrecorded), refuse append-only tables, and check the table and column names. For
the ledger tables of a plugin's own, from its tick or a command, never for a person's records.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crm_workspace.data import permissions, schema
from crm_workspace.errors import CrmError, NotFound

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
    permissions.require_admin(store, f"{action} {table} rows without audit (retention)")
    return store.primary_key(table)


def prune(store: Any, table: str, where: str, params: Sequence[Any] = (), *, chunk: int = CHUNK) -> int:
    """Delete the rows of ``table`` that ``where`` (SQL, with ``?`` params) picks; how many went.

    ``where`` is the caller's own SQL, never a person's text.
    """
    pk = _checked(store, table, "delete")
    return _chunked(store, table, pk, where, params, f"DELETE FROM [{table}]", chunk)


def blank(
    store: Any, table: str, columns: Sequence[str], where: str, params: Sequence[Any] = (), *, chunk: int = CHUNK
) -> int:
    """Set ``columns`` to NULL in the rows ``where`` picks that still hold a value; how many changed."""
    pk = _checked(store, table, "update", columns)
    sets = ", ".join(f"[{name}] = NULL" for name in columns)
    held = " OR ".join(f"[{name}] IS NOT NULL" for name in columns)
    return _chunked(store, table, pk, f"({where}) AND ({held})", params, f"UPDATE [{table}] SET {sets}", chunk)


def _chunked(store: Any, table: str, pk: str, where: str, params: Sequence[Any], statement: str, chunk: int) -> int:
    done, last = 0, None
    # in key order from where the last chunk ended: rows kept (blanked) are never scanned again
    select = f"SELECT [{pk}] FROM [{table}] WHERE ({where}) AND [{pk}] > ? ORDER BY [{pk}] LIMIT {int(chunk)}"
    first = f"SELECT [{pk}] FROM [{table}] WHERE {where} ORDER BY [{pk}] LIMIT {int(chunk)}"
    while ids := [row[pk] for row in store.query(*((first, params) if last is None else (select, [*params, last])))]:
        with store.transaction():
            marks = ",".join("?" * len(ids))
            # picked again under the write lock: a row changed since the SELECT (requeued) stays
            done += store.conn.execute(f"{statement} WHERE [{pk}] IN ({marks}) AND ({where})", [*ids, *params]).rowcount
        last = ids[-1]
    return done
