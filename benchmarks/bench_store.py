"""Store write throughput: 100k contacts through the Store API vs raw sqlite3.executemany.

Ours runs everything a user's write runs: every enabled plugin's validation
(email syntax, phone to E.164 ...), the audit rows and the record-changed
events, in one transaction. The baseline inserts the same rows with one
executemany in one transaction into the same schema (indexes, FTS triggers),
with the same pragmas (synchronous, write cache).
Goal: within 3x of raw. A third line compares with raw multi-row INSERTs,
the way the store itself writes, which is the harder baseline.
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from pathlib import Path

from common import report

from crm_workspace import Workspace
from crm_workspace.data.store import WRITE_CACHE_KIB

N = 100_000
FIELDS = ("first_name", "last_name", "email", "phone", "title", "stakeholder_type", "lifecycle_stage", "owner")


def rows() -> list[dict]:
    return [
        {
            "first_name": f"First{i}",
            "last_name": f"Last{i % 997}",
            "email": f"person{i}@example.com",
            "phone": f"+49151{10000000 + i}",
            "title": "Buyer",
            "stakeholder_type": "prospect",
            "lifecycle_stage": "lead",
            "owner": "ana",
        }
        for i in range(N)
    ]


def ours(path: Path, data: list[dict], **plugins) -> float:
    ws = Workspace.open(path, user="bench", builtins_only=True, **plugins)
    start = time.perf_counter()
    ws.store.insert_many("contacts", data)
    elapsed = time.perf_counter() - start
    assert ws.store.scalar("SELECT count(*) FROM contacts") == N
    assert ws.store.scalar("SELECT count(*) FROM audit_log WHERE table_name = 'contacts'") == N
    ws.close()
    return elapsed


def raw(path: Path, data: list[dict], *, rows_per_statement: int = 1, **plugins) -> float:
    Workspace.open(path, user="bench", builtins_only=True, **plugins).close()  # same schema, indexes, triggers
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = NORMAL")  # the store's pragmas, so only our work differs
    conn.execute(f"PRAGMA cache_size = -{WRITE_CACHE_KIB}")
    values = [tuple(row[f] for f in FIELDS) for row in data]
    start = time.perf_counter()
    one = f"({', '.join('?' * len(FIELDS))})"
    sql = f"INSERT INTO contacts ({', '.join(FIELDS)}) VALUES " + ", ".join([one] * rows_per_statement)
    conn.execute("BEGIN")
    if rows_per_statement == 1:
        conn.executemany(sql, values)
    else:  # N divides evenly
        for first in range(0, N, rows_per_statement):
            conn.execute(sql, [v for row in values[first : first + rows_per_statement] for v in row])
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def main() -> None:
    data = rows()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        raw_core = raw(tmp / "raw-core.db", data, load_plugins=False)
        core_only = ours(tmp / "core.db", data, load_plugins=False)
        raw_full = raw(tmp / "raw-full.db", data)
        full = ours(tmp / "full.db", data)
        raw_multi = raw(tmp / "raw-multi.db", data, rows_per_statement=500)
    goal = "goal: within 3x of raw"
    report("store_write_100k_core", core_only, raw_core, "raw executemany (core schema)", goal=goal)
    report("store_write_100k_all_plugins", full, raw_full, "raw executemany (same schema: FTS triggers)", goal=goal)
    # executemany runs one statement per row, and FTS5 flushes its index at every
    # statement: the store writes 500 rows per statement. The same trick, raw:
    report("store_write_100k_all_plugins_vs_multirow", full, raw_multi, "raw 500-row INSERTs (same schema)")


if __name__ == "__main__":
    main()
