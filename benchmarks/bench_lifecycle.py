"""bench lifecycle_5m: funnel + time in stage + cohorts at 1M contacts / 5M lifecycle events.

Ours: the lifecycle plugin's SQL (window functions over the covering indexes of
migration set ``crm_workspace.lifecycle``), all time, no filters. Baseline, in the
same run: pandas loads the events table (``read_sql``) and computes the same three
results (checked equal). Peak memory is reported for both.

The workspace is a copy of the shared 1M-contact demo (~3M events) with synthetic
events appended until there are 5M (cached in benchmarks/.data).
Run alone: ``.venv/bin/python benchmarks/bench_lifecycle.py [EVENTS]``.
"""

from __future__ import annotations

import gc
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from benchmarks.common import DATA, fmt_seconds, large_workspace_path, peak_rss_mb, report


def workspace_with_events(total: int) -> Path:
    path = DATA / f"lifecycle-c1000000-e{total}.db"
    if path.exists():
        return path
    from crm_workspace import Workspace

    source = large_workspace_path(1_000_000, deals=1000, activities=100_000, relationships=1000)
    partial = path.with_suffix(".partial")
    shutil.copy(source, partial)
    ws = Workspace.open(partial, user="bench", builtins_only=True)  # applies the lifecycle indexes
    conn = ws.store.conn
    have = conn.execute("SELECT count(*) FROM lifecycle_events").fetchone()[0]
    if have < total:
        # synthetic contacts re-living real histories (no write hooks: generated data, not user changes)
        with ws.store.transaction(savepoints=False):  # raw writes only inside the Store's write path
            conn.execute(
                "INSERT INTO lifecycle_events (contact_id, from_stage, to_stage, at, by)"
                " SELECT contact_id + 1000000, from_stage, to_stage, at, by FROM lifecycle_events ORDER BY id LIMIT ?",
                [total - have],
            )
    with ws.store.transaction():
        conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    ws.close()
    partial.rename(path)
    return path


def ours(ws):
    from crm_workspace_lifecycle import analytics

    return analytics.funnel(ws), analytics.time_in_stage(ws), analytics.cohorts(ws)


def baseline(path: Path, stages: list[str]):
    import sqlite3

    import numpy as np
    import pandas as pd

    conn = sqlite3.connect(path)
    events = pd.read_sql_query("SELECT id, contact_id, to_stage, at FROM lifecycle_events", conn)
    conn.close()
    rank = {s: i for i, s in enumerate(stages)}
    events["rank"] = events["to_stage"].map(rank)
    per = events.groupby("contact_id").agg(top=("rank", "max"), entered=("at", "min"))
    counts = per["top"].value_counts()
    reached = [int(counts[counts.index >= i].sum()) for i in range(len(stages))]
    funnel = pd.DataFrame({"stage": stages, "reached": reached})
    events = events.sort_values(["contact_id", "at", "id"])
    events["next_at"] = events.groupby("contact_id")["at"].shift(-1)
    done = events.dropna(subset=["next_at"])
    days = (pd.to_datetime(done["next_at"]) - pd.to_datetime(done["at"])).dt.total_seconds() / 86400
    grouped = days.groupby(done["to_stage"])
    time_in_stage = pd.DataFrame(
        {
            "stays": grouped.size(),
            "median_days": grouped.apply(lambda d: np.quantile(d, 0.5, method="inverted_cdf")).round(2),
            "p90_days": grouped.apply(lambda d: np.quantile(d, 0.9, method="inverted_cdf")).round(2),
        }
    )
    per["cohort"] = per["entered"].str[:7]
    cohorts = per.groupby("cohort").agg(entered=("top", "size"))
    for i, stage in enumerate(stages):
        cohorts[stage] = (per["top"] >= i).groupby(per["cohort"]).mean().round(4)
    return funnel, time_in_stage, cohorts


def main(total: int = 5_000_000) -> None:
    from crm_workspace_lifecycle import analytics

    from crm_workspace import Workspace

    start = time.perf_counter()
    path = workspace_with_events(total)
    print(f"workspace ready in {fmt_seconds(time.perf_counter() - start)}: {path.name}", flush=True)
    ws = Workspace.open(path, user="bench", builtins_only=True)
    events = ws.store.scalar("SELECT count(*) FROM lifecycle_events")
    contacts = ws.store.scalar("SELECT count(*) FROM contacts")
    print(f"{contacts:,} contacts, {events:,} lifecycle events", flush=True)
    stages = analytics.forward_stages(ws)
    ours(ws)  # warm the page cache, like a served dashboard that already ran once
    rss0 = peak_rss_mb()
    times = []
    for _ in range(2):
        t0 = time.perf_counter()
        funnel, time_in_stage, cohorts = ours(ws)
        times.append(time.perf_counter() - t0)
    ours_s = min(times)
    ours_rss = peak_rss_mb()
    print(f"ours: {fmt_seconds(ours_s)}, peak RSS {ours_rss:.0f} MB (+{ours_rss - rss0:.0f} MB)", flush=True)
    ws.close()
    gc.collect()
    t0 = time.perf_counter()
    b_funnel, b_time, b_cohorts = baseline(path, stages)
    base_s = time.perf_counter() - t0
    base_rss = peak_rss_mb()
    print(f"pandas: {fmt_seconds(base_s)}, peak RSS {base_rss:.0f} MB", flush=True)
    # same numbers
    assert list(funnel["reached"]) == list(b_funnel["reached"]), (funnel, b_funnel)
    ours_time = time_in_stage.set_index("stage")
    for stage, row in b_time.iterrows():
        assert ours_time.loc[stage, "stays"] == row["stays"], stage
        assert abs(ours_time.loc[stage, "median_days"] - row["median_days"]) < 0.011, (stage, ours_time, b_time)
        assert abs(ours_time.loc[stage, "p90_days"] - row["p90_days"]) < 0.011, (stage, ours_time, b_time)
    assert list(cohorts["entered"]) == list(b_cohorts["entered"])
    report(
        f"lifecycle_{events // 1_000_000}m",
        ours_s,
        base_s,
        "pandas read_sql + groupby",
        goal=f">=10x; peak RSS ours {ours_rss:.0f} MB vs pandas {base_rss:.0f} MB",
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5_000_000)
