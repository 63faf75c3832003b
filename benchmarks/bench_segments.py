"""bench segment_count_1m: a three-condition segment's live count at 1M contacts.

Ours: the marketing plugin's compiled filter (lifecycle stage is one of three, the
organization's country is one of three, marketing consent given) as one
``SELECT count(*)`` over the contacts indexes. Baseline, in the same run: pandas loads
the columns it needs (contacts and organizations, ``read_sql``), joins and filters
(counts checked equal). Goal: under 300 ms and at least 10x faster.

Also measured: a segment's incremental upkeep (one contact updated through the Store,
its members re-evaluated in the write) against a full rebuild of the same segment.

The workspace: the shared 100k-contact demo, its contacts copied nine times more
(1M; a third with consent), cached in benchmarks/.data.
Run alone: ``.venv/bin/python benchmarks/bench_segments.py [CONTACTS]``.
"""

from __future__ import annotations

import shutil
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from benchmarks.common import DATA, fmt_seconds, large_workspace_path, report, timeit

FILTER = {
    "match": "all",
    "conditions": [
        {"field": "lifecycle_stage", "op": "in", "value": ["lead", "marketing_qualified", "sales_qualified"]},
        {"field": "organization.country", "op": "in", "value": ["DE", "AT", "CH"]},
        {"field": "consent", "op": "is", "value": "given"},
    ],
}
COPY = [
    "first_name",
    "last_name",
    "phone",
    "title",
    "organization_id",
    "stakeholder_type",
    "lifecycle_stage",
    "source",
    "owner",
    "created_at",
    "updated_at",
    "updated_by",
    "version",
]


def workspace_path(contacts: int) -> Path:
    """The 100k demo grown to ``contacts`` by copying its contacts (unique emails), a third consenting."""
    from crm_workspace import Workspace

    path = DATA / f"segments-c{contacts}.db"
    if path.exists():
        return path
    source = large_workspace_path(100_000, deals=1000, activities=10_000, relationships=1000)
    DATA.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    shutil.copy(source, partial)
    ws = Workspace.open(partial, user="bench")  # applies the marketing migrations
    conn = ws.store.conn
    have = conn.execute("SELECT count(*) FROM contacts").fetchone()[0]
    columns = ", ".join(COPY)
    started = time.perf_counter()
    # generated rows, not a user's change: raw inserts inside the Store's write transaction
    with ws.store.transaction(savepoints=False):
        copy = 1
        while have < contacts:
            take = min(contacts - have, 100_000)
            conn.execute(
                f"INSERT INTO contacts ({columns}, email) SELECT {columns}, 'c{copy}.' || email FROM contacts"
                " WHERE id <= ? ORDER BY id",
                [take],
            )
            have += take
            copy += 1
        conn.execute(
            "UPDATE contacts SET marketing_consent = CASE WHEN id % 3 = 0 THEN 1 WHEN id % 7 = 0 THEN 0 END,"
            " consent_at = CASE WHEN id % 3 = 0 OR id % 7 = 0 THEN created_at END"
        )
    with ws.store.transaction():
        conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    print(f"built {path.name} in {fmt_seconds(time.perf_counter() - started)}", flush=True)
    ws.close()
    partial.rename(path)
    return path


def baseline(path: Path) -> int:
    import pandas as pd

    conn = sqlite3.connect(path)
    contacts = pd.read_sql_query("SELECT id, lifecycle_stage, organization_id, marketing_consent FROM contacts", conn)
    orgs = pd.read_sql_query("SELECT id AS organization_id, country FROM organizations", conn)
    conn.close()
    merged = contacts.merge(orgs, how="left", on="organization_id")
    stages = ["lead", "marketing_qualified", "sales_qualified"]
    keep = (
        merged.lifecycle_stage.isin(stages) & merged.country.isin(["DE", "AT", "CH"]) & (merged.marketing_consent == 1)
    )
    return int(keep.sum())


def main(contacts: int = 1_000_000) -> None:
    from crm_workspace_marketing import segments

    from crm_workspace import Workspace

    path = workspace_path(contacts)
    ws = Workspace.open(path, user="bench")
    ours_count = segments.count(ws, FILTER)
    theirs = baseline(path)
    assert ours_count == theirs, (ours_count, theirs)
    ours = timeit(lambda: segments.count(ws, FILTER), repeat=7)
    base = timeit(lambda: baseline(path), repeat=3, warmup=0)
    print(f"  {ours_count:,} of {contacts:,} contacts match; p95 {fmt_seconds(ours['p95'])}")
    report(
        f"segment_count_{contacts // 1000}k",
        ours["p50"],
        base["p50"],
        "pandas read_sql+filter",
        goal="< 300 ms, >= 10x",
    )

    # incremental upkeep vs a full rebuild, on a scratch copy
    scratch = path.with_suffix(".scratch")
    ws.close()
    shutil.copy(path, scratch)
    ws = Workspace.open(scratch, user="bench")
    try:
        started = time.perf_counter()
        saved = segments.save_segment(ws, "Bench DACH leads", FILTER)
        first = time.perf_counter() - started
        lead = ws.store.scalar("SELECT id FROM contacts WHERE lifecycle_stage = 'lead' LIMIT 1")

        def one_write():
            stage = ws.store.get("contacts", lead)["lifecycle_stage"]
            ws.store.update("contacts", lead, {"lifecycle_stage": "customer" if stage == "lead" else "lead"})

        write = timeit(one_write, repeat=7)
        full = timeit(lambda: segments.rebuild(ws, saved["id"]), repeat=3, warmup=0)
        print(f"  saving the segment (first build): {fmt_seconds(first)}")
        report("segment_upkeep_one_write", write["p50"], full["p50"], "full rebuild")
    finally:
        ws.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{scratch}{suffix}").unlink(missing_ok=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
