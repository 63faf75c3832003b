"""``lifecycle_m003`` replaced the ``lifecycle_stays`` trigger: the new one writes the rows the old one did.

Both triggers follow the same events into two databases: forward, backdated and
out-of-order events, equal timestamps, stage repeats, one-row and 500-row inserts.
``lifecycle_events`` is append-only (no update, no delete), so inserts are all the
trigger sees.
"""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

from crm_workspace_lifecycle.schema import STAYS_TRIGGER, STAYS_TRIGGER_M002

from crm_workspace import Workspace

TABLES = (
    "CREATE TABLE lifecycle_events (id INTEGER PRIMARY KEY, contact_id INTEGER NOT NULL,"
    " from_stage TEXT, to_stage TEXT NOT NULL, at TEXT NOT NULL, by TEXT)",
    "CREATE TABLE lifecycle_stays (event_id INTEGER PRIMARY KEY, contact_id INTEGER NOT NULL,"
    " stage TEXT NOT NULL, at TEXT NOT NULL, next_at TEXT, days REAL)",
    "CREATE INDEX idx_stays_stage_days ON lifecycle_stays(stage, days, at, contact_id)",
    "CREATE INDEX idx_stays_contact ON lifecycle_stays(contact_id, at, event_id)",
)
STAGES = ("subscriber", "lead", "mql", "sql", "opportunity", "customer")
ROW = "(?, ?, ?, ?, ?, ?)"


def events(seed: int, n: int) -> list[tuple]:
    """Events in insertion order; ``at`` often earlier than a contact's last event, often equal to another."""
    rng = random.Random(seed)
    moments = [f"2026-{m:02d}-{d:02d}T{h:02d}:00:00Z" for m in (1, 2, 3) for d in (1, 9, 28) for h in (8, 17)]
    moments += ["2026-02-09 08:00:00", "2026-02-09T08:00:00.500Z"]  # other spellings julianday reads
    return [
        (i, rng.randint(1, 12), None, rng.choice(STAGES[:3]) if i % 5 else "lead", rng.choice(moments), "t")
        for i in range(1, n + 1)
    ]


def replay(trigger: str, batches: list[list[tuple]]) -> list[tuple]:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    for sql in (*TABLES, trigger):
        conn.execute(sql)
    for batch in batches:
        conn.execute(
            "INSERT INTO lifecycle_events (id, contact_id, from_stage, to_stage, at, by) VALUES "
            + ", ".join([ROW] * len(batch)),
            [value for event in batch for value in event],
        )
    return conn.execute("SELECT * FROM lifecycle_stays ORDER BY event_id").fetchall()


def by_window(rows: list[tuple]) -> list[tuple]:
    """What m002 fills an existing table with: LEAD(at) over each contact's events by (at, id)."""
    conn = sqlite3.connect(":memory:")
    conn.execute(TABLES[0])
    conn.executemany(f"INSERT INTO lifecycle_events VALUES {ROW}", rows)
    return conn.execute(
        "SELECT id, contact_id, to_stage, at, next_at, julianday(next_at) - julianday(at) FROM ("
        " SELECT id, contact_id, to_stage, at,"
        " LEAD(at) OVER (PARTITION BY contact_id ORDER BY at, id) AS next_at FROM lifecycle_events)"
        " ORDER BY id"
    ).fetchall()


def test_the_new_trigger_writes_the_rows_the_old_one_wrote():
    for seed in range(6):
        rows = events(seed, 400)
        one_by_one = [[row] for row in rows]
        in_batches = [rows[at : at + 137] for at in range(0, len(rows), 137)]
        old = replay(STAYS_TRIGGER_M002, one_by_one)
        assert len(old) == 400 and any(r[4] is None for r in old) and any(r[5] == 0 for r in old)
        assert replay(STAYS_TRIGGER, one_by_one) == old
        assert replay(STAYS_TRIGGER, in_batches) == replay(STAYS_TRIGGER_M002, in_batches) == old
        assert old == by_window(rows)


def test_events_out_of_order_link_each_stay_to_the_next_event():
    rows = [
        (1, 7, None, "lead", "2026-03-01T00:00:00Z", "t"),
        (2, 7, "lead", "mql", "2026-03-03T00:00:00Z", "t"),
        (3, 7, None, "subscriber", "2026-02-28T00:00:00Z", "t"),  # backdated before both
        (4, 7, "lead", "lead", "2026-03-02T00:00:00Z", "t"),  # in between, a repeat of the stage
        (5, 7, "mql", "mql", "2026-03-03T00:00:00Z", "t"),  # same moment as event 2, later id
    ]
    stays = replay(STAYS_TRIGGER, [[row] for row in rows])
    assert [(s[0], s[4], s[5]) for s in stays] == [
        (1, "2026-03-02T00:00:00Z", 1.0),
        (2, "2026-03-03T00:00:00Z", 0.0),
        (3, "2026-03-01T00:00:00Z", 1.0),
        (4, "2026-03-03T00:00:00Z", 1.0),
        (5, None, None),
    ]


def test_a_new_workspace_has_the_new_trigger(tmp_path: Path):
    Workspace.open(tmp_path / "new.db", user="ana", builtins_only=True).close()
    with sqlite3.connect(tmp_path / "new.db") as conn:
        (sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'lifecycle_stays_on_event'").fetchone()
    assert sql.split() == STAYS_TRIGGER.split()
