"""bench queue_1m: the Service queue's first page at 1M tickets, against the same page at 1k.

Ours: ``queue.page`` (the plugin's SQL: keyset over the ``(is_open, sla_sort, id)`` index and
its per-assignee/per-team twins, requester and organization joined for the page's rows only)
for the views an agent opens most: all open, my tickets, unassigned, breaching soon, one team.
The large workspace has 2% of its tickets open (20,000 at 1M), the small one 500 of 1,000, so
that every view fills its 50-row page in both (1,000 requesters; cached in benchmarks/.data). Goals: every first page under 50 ms at 1M, and within 3x of 1k.
Run alone: ``.venv/bin/python benchmarks/bench_queue.py [TICKETS]``.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from benchmarks.common import DATA, fmt_seconds, report, timeit

NOW = "2026-11-30T12:00:00Z"
FILL = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :n)
INSERT INTO tickets (id, subject, requester_id, organization_id, priority, status, assignee, team, channel,
                     sla_policy_id, is_open, sla_due_at, sla_sort, created_at, updated_at, version, reopened)
SELECT i, 'Ticket number ' || i, (i % 1000) + 1, (i % 100) + 1,
       CASE i % 11 WHEN 0 THEN 'urgent' WHEN 1 THEN 'high' WHEN 2 THEN 'low' ELSE 'normal' END,
       CASE WHEN i > :n - :open THEN CASE i % 5 WHEN 0 THEN 'new' WHEN 1 THEN 'pending' ELSE 'open' END ELSE 'closed' END,
       CASE WHEN i % 3 = 0 THEN 'agent0' WHEN i % 7 = 0 THEN NULL ELSE 'agent' || (i % 40) END,
       'team' || (i % 8), 'email', 1,
       CASE WHEN i > :n - :open THEN 1 ELSE 0 END,
       CASE WHEN i > :n - :open AND i % 5 != 1 THEN strftime('%Y-%m-%dT%H:%M:%SZ', '2026-11-30T12:00:00', ((i * 7919) % 600 - 60) || ' minutes') END,
       CASE WHEN i > :n - :open AND i % 5 != 1 THEN strftime('%Y-%m-%dT%H:%M:%SZ', '2026-11-30T12:00:00', ((i * 7919) % 600 - 60) || ' minutes') ELSE '9999-12-31T00:00:00Z' END,
       strftime('%Y-%m-%dT%H:%M:%SZ', '2026-11-30T12:00:00', '-' || ((:n - i) / 40) || ' minutes'), :now, 1, 0
FROM n
"""


def workspace_with(tickets: int) -> Path:
    from crm_workspace import Workspace

    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"service-queue-{tickets}.db"
    if path.exists():
        return path
    partial = path.with_suffix(".partial")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{partial}{suffix}").unlink(missing_ok=True)
    ws = Workspace.open(partial, user="bench", builtins_only=True)
    store = ws.store
    with store.transaction(savepoints=False):  # generated rows, raw inside the Store's write path
        store.conn.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100)"
            " INSERT INTO organizations (id, name, version) SELECT i, 'Org ' || i, 1 FROM n"
        )
        store.conn.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)"
            " INSERT INTO contacts (id, first_name, last_name, email, organization_id, version)"
            " SELECT i, 'First' || i, 'Last' || i, 'person' || i || '@example.com', (i % 100) + 1, 1 FROM n"
        )
        store.conn.execute(FILL, {"n": tickets, "open": max(500, tickets // 50), "now": NOW})
    with store.transaction():
        store.conn.execute("ANALYZE")
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    ws.close()
    partial.rename(path)
    return path


def first_pages(path: Path) -> dict[str, float]:
    from crm_workspace_service import clock
    from crm_workspace_service.queue import Filters, page

    from crm_workspace import Workspace

    clock.set_now(NOW)
    ws = Workspace.open(path, user="agent0", builtins_only=True)
    views = {
        "open": Filters("open"),
        "mine": Filters("mine"),
        "unassigned": Filters("unassigned"),
        "breaching": Filters("breaching"),
        "team": Filters("open", team="team0"),
        "next page": None,
    }
    out = {}
    for name, filters in views.items():
        if filters is None:
            _, cursor = page(ws, Filters("open"), limit=50)
            out[name] = timeit(lambda c=cursor: page(ws, Filters("open"), after=c, limit=50), repeat=15)["p50"]
            continue
        rows, _ = page(ws, filters, limit=50)
        assert rows, name
        out[name] = timeit(lambda f=filters: page(ws, f, limit=50), repeat=15)["p50"]
    from crm_workspace_service.queue import count

    out["count (open)"] = timeit(lambda: count(ws, Filters("open")), repeat=5)[
        "p50"
    ]  # the page's "N tickets", not a goal
    ws.close()
    return out


def main(large: int = 1_000_000) -> None:
    small_times = first_pages(workspace_with(1_000))
    large_times = first_pages(workspace_with(large))
    for name in small_times:
        print(
            f"  {name:<11} 1k {fmt_seconds(small_times[name]):>9}   {large // 1000}k {fmt_seconds(large_times[name]):>9}",
            flush=True,
        )
    pages = [n for n in large_times if not n.startswith("count")]
    worst = max(large_times[n] for n in pages)
    worst_ratio = max(large_times[n] / small_times[n] for n in pages)
    print(
        f"slowest first page at {large:,}: {fmt_seconds(worst)} (goal < 50 ms); worst ratio to 1k: {worst_ratio:.2f}x (goal <= 3x)"
    )
    report(
        f"queue_{large // 1000}k",
        large_times["open"],
        small_times["open"] * 3,
        "3x the same page at 1k",
        goal="ours below 3x the 1k page",
    )
    assert worst < 0.05 and worst_ratio <= 3, "queue first page goal missed"


if __name__ == "__main__":
    _ = datetime.now(UTC)
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
