"""Lead scores: a full rescore of 100,000 contacts (set-based SQL) vs the same computation in pandas.

Ours: ``engine.rescore`` with the suggested rules (four fit rules, four engagement rules
with decay and caps): one INSERT ... SELECT per rule into ``score_breakdown``, one into
``lead_scores``. Baseline: the same rules computed in pandas over the same columns
(read with ``read_sql``, vectorised, the breakdown and totals written back with
``executemany``), measured in the same run; the totals are checked to agree. Also
printed: one contact's incremental rescore (a write's cost) and training the model.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from common import fmt_seconds, large_workspace_path, report, timeit

CONTACTS = int(os.environ.get("BENCH_SCORING_CONTACTS", "100000"))
NOW = "2026-11-30T09:00:00Z"


def pandas_rescore(conn) -> pd.Series:
    """The suggested rules in pandas: read, compute, write the breakdown and totals back."""
    contacts = pd.read_sql_query(
        "SELECT c.id, c.title, c.email, c.phone, c.stakeholder_type, o.industry FROM contacts c"
        " LEFT JOIN organizations o ON o.id = c.organization_id",
        conn,
    )
    acts = pd.read_sql_query(
        "SELECT contact_id, kind, occurred_at FROM activities WHERE kind IN ('email', 'call', 'meeting')"
        " AND contact_id IS NOT NULL",
        conn,
    )
    title = contacts["title"].fillna("")
    lower = title.str.lower()
    parts = {
        1: np.where(
            lower.str.contains("director", regex=False)
            | lower.str.contains("head of", regex=False)
            | lower.str.contains("vp", regex=False)
            | lower.isin(["ceo", "cfo", "coo", "cto", "cio"]),
            10.0,
            0.0,
        ),
        2: np.where(contacts["industry"].fillna("").str.lower().isin(["software", "finance", "logistics"]), 5.0, 0.0),
        3: np.where(
            contacts["email"].fillna("").str.strip().ne("") & contacts["phone"].fillna("").str.strip().ne(""), 2.0, 0.0
        ),
        4: np.where(
            contacts["stakeholder_type"].fillna("").str.lower().isin(["employee", "supplier", "media"]), -25.0, 0.0
        ),
    }
    frame = pd.DataFrame({"contact_id": contacts["id"], **{rule: values for rule, values in parts.items()}})
    long = frame.melt(id_vars="contact_id", var_name="rule_id", value_name="points")
    long = long[long["points"] != 0]
    now = pd.Timestamp(NOW)
    acts["age"] = (now - pd.to_datetime(acts["occurred_at"], utc=True)).dt.total_seconds() / 86400
    engaged = []
    for rule_id, kind, days, points, cap, half_life in (
        (5, "email", 30, 3, 15, 14),
        (6, "call", 60, 4, 12, 21),
        (7, "meeting", 90, 8, 24, 30),
    ):
        window = acts[(acts["kind"] == kind) & (acts["age"] >= 0) & (acts["age"] <= days)]
        summed = (points * 0.5 ** (window["age"].clip(lower=0) / half_life)).groupby(window["contact_id"]).sum()
        summed = summed.clip(upper=cap).round(2)
        engaged.append(pd.DataFrame({"contact_id": summed.index, "rule_id": rule_id, "points": summed.values}))
    long = pd.concat([long, *engaged], ignore_index=True)
    long = long[long["points"] != 0]
    totals = long.groupby("contact_id")["points"].sum().reindex(contacts["id"], fill_value=0.0).round(2)
    conn.execute("DELETE FROM bench_breakdown")
    conn.execute("DELETE FROM bench_scores")
    conn.executemany("INSERT INTO bench_breakdown VALUES (?, ?, ?)", long.itertuples(index=False, name=None))
    conn.executemany("INSERT INTO bench_scores VALUES (?, ?, ?)", ((int(i), float(p), NOW) for i, p in totals.items()))
    conn.commit()
    return totals


def main() -> None:
    from crm_workspace_scoring import engine, learn, rules

    from crm_workspace import Workspace

    source = large_workspace_path(CONTACTS)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scoring.db"
        shutil.copyfile(source, path)
        ws = Workspace.open(path, user="bench")
        with ws.store.transaction():
            ws.store.conn.execute("DELETE FROM score_rules")  # the Store numbers new rules from 1 again
        rules.add_suggested(ws)  # ids 1..8 in the suggested order, as the pandas version numbers them
        # small demos come with a trained model: then ours also computes the model score (pandas does not)
        has_model = bool(ws.store.scalar("SELECT count(*) FROM score_models"))
        contacts = ws.store.scalar("SELECT count(*) FROM contacts")
        activities = ws.store.scalar("SELECT count(*) FROM activities")

        ours = timeit(lambda: engine.rescore(ws, now=NOW), repeat=3)["p50"]

        import sqlite3

        conn = sqlite3.connect(path)
        conn.execute("CREATE TEMP TABLE bench_breakdown (contact_id INTEGER, rule_id INTEGER, points REAL)")
        conn.execute(
            "CREATE TEMP TABLE bench_scores (contact_id INTEGER PRIMARY KEY, rule_points REAL, updated_at TEXT)"
        )
        totals = pandas_rescore(conn)
        stored = pd.Series(
            dict(ws.store.conn.execute("SELECT contact_id, rule_points FROM lead_scores").fetchall())
        ).reindex(totals.index)
        differ = int((stored - totals).abs().gt(0.02).sum())
        baseline = timeit(lambda: pandas_rescore(conn), repeat=3)["p50"]
        conn.close()

        print(
            f"# {contacts:,} contacts, {activities:,} activities, 8 rules; totals differing: {differ}"
            + ("; ours includes the model's score" if has_model else "")
        )
        report(f"scoring_full_rescore_{contacts}", ours, baseline, "pandas", goal="seconds; faster than pandas")

        target = ws.store.scalar("SELECT id FROM contacts ORDER BY id LIMIT 1 OFFSET 500")
        one = timeit(lambda: engine.rescore(ws, [target], now=NOW), repeat=20)["p50"]
        print(f"# one contact's incremental rescore (what a write adds): {fmt_seconds(one)}")

        if os.environ.get("BENCH_SCORING_TRAIN", "1") == "0":
            ws.close()
            return
        started = time.perf_counter()
        try:
            row = learn.train(ws, now=NOW)
            print(
                f"# training at {contacts:,} contacts: {fmt_seconds(time.perf_counter() - started)} "
                f"(sample {row['sample_size']:,}, AUC {row['auc']:.2f}), including the rescore with the model"
            )
            with_model = timeit(lambda: engine.rescore(ws, now=NOW), repeat=3)["p50"]
            print(f"# full rescore with the model's SQL dot product: {fmt_seconds(with_model)}")
        except learn.NotEnoughHistory as error:
            print(f"# training skipped: {error}")
        ws.close()


if __name__ == "__main__":
    main()
