"""The SLA of many tickets at once: ``sla.sla_state`` vectorised with numpy over the same business tables.

Each status-history row is a segment (until the ticket's next row); business seconds worked
at any moment are a ``searchsorted`` in the calendar's cumulative table, so the time worked
on 100k tickets is a handful of array operations instead of a loop over days. The result
equals ``sla_state`` ticket by ticket (tests/test_service_sla_batch.py checks it).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from .sla import METRICS, RUNNING, SEVERITY, STOPPED, Policy, business_table

STATUSES = ("new", "open", "pending", "on_hold", "solved", "closed")
PRIORITIES = ("low", "normal", "high", "urgent")
_RUNNING = [STATUSES.index(s) for s in RUNNING]
_STOPPED = [STATUSES.index(s) for s in STOPPED]
_CODE = {name: i for i, name in enumerate(SEVERITY)}


def _worked(tables, cal: np.ndarray, t: np.ndarray) -> np.ndarray:
    out = np.zeros(len(t))
    for c, table in enumerate(tables):
        mask = cal == c
        if not mask.any():
            continue
        starts, ends, cum, _ = table.arrays()
        x = t[mask]
        i = np.searchsorted(starts, x, side="right") - 1
        j = np.maximum(i, 0)
        out[mask] = np.where(i < 0, 0.0, cum[j] + np.minimum(x - starts[j], ends[j] - starts[j]))
    return out


def _moment(tables, cal: np.ndarray, w: np.ndarray) -> np.ndarray:
    out = np.full(len(w), np.nan)
    for c, table in enumerate(tables):
        mask = cal == c
        if not mask.any() or not len(table.starts):
            continue
        starts, _, cum, cum_end = table.arrays()
        x = w[mask]
        i = np.searchsorted(cum_end, x, side="left")
        ok = i < len(starts)
        j = np.minimum(i, len(starts) - 1)
        out[mask] = np.where(ok & (x >= 0), starts[j] + (x - cum[j]), np.nan)
    return out


def batch_sla(
    ticket_pos: np.ndarray,
    at: np.ndarray,
    status: np.ndarray,
    priority: np.ndarray,
    policy: np.ndarray,
    first_reply: np.ndarray,
    policies: Sequence[Policy],
    now: datetime,
    *,
    soon: float = 60,
) -> dict[str, np.ndarray]:
    """Both clocks of ``len(first_reply)`` tickets from their history rows.

    History rows are sorted by ticket position (0..n-1, every ticket has a row) then time:
    ``at`` epoch seconds, ``status``/``priority`` codes (indexes into ``STATUSES``/``PRIORITIES``),
    ``policy`` an index into ``policies`` (-1: none). ``first_reply`` is epoch seconds or NaN.
    Returns per ticket ``<metric>_state`` (codes into ``sla.SEVERITY``), ``_elapsed`` (business
    minutes), ``_target``, ``_due`` and ``_breached`` (epoch seconds or NaN), and ``state``.
    """
    n, m = len(first_reply), len(at)
    t_now = now.timestamp()
    calendars = list(dict.fromkeys(p.calendar for p in policies))
    cal_of_policy = np.array([calendars.index(p.calendar) for p in policies] + [-1])
    lo = float(at.min()) if m else t_now
    tables = [business_table(c, lo, t_now + 2 * 366 * 86400) for c in calendars]
    targets = {
        metric: np.array(
            [
                [p.target(metric, pr) if p.target(metric, pr) is not None else np.nan for pr in PRIORITIES]
                for p in policies
            ]
            + [[np.nan] * 4]
        )
        for metric in METRICS
    }
    same_next = np.r_[ticket_pos[1:] == ticket_pos[:-1], False]
    seg_end = np.where(same_next, np.r_[at[1:], np.inf], np.inf)
    first_row = np.flatnonzero(np.r_[True, ~same_next[:-1]]) if m else np.zeros(0, int)
    cal = cal_of_policy[policy]
    stopped = np.isin(status, _STOPPED)
    running = np.isin(status, _RUNNING) & (policy >= 0)
    last_row = np.flatnonzero(~same_next)

    # per-ticket reductions over each ticket's consecutive rows (every ticket has at least one)
    first_stop = np.minimum.reduceat(np.where(stopped, at, np.inf), first_row) if m else np.full(n, np.inf)
    run_start = stopped & ~(np.r_[False, same_next[:-1]] & np.r_[False, stopped[:-1]])
    res_stop = np.maximum.reduceat(np.where(run_start, at, -np.inf), first_row) if m else np.full(n, -np.inf)
    res_stop = np.where(stopped[last_row], res_stop, np.inf)
    w0_all = _worked(tables, np.where(running, cal, -1), at)
    w_now_of_cal = np.array([t.worked(t_now) for t in tables] + [0.0])
    stops = {"first_response": np.fmin(np.nan_to_num(first_reply, nan=np.inf), first_stop), "resolution": res_stop}

    rows = np.arange(m)
    out: dict[str, np.ndarray] = {}
    for metric in METRICS:
        stop = stops[metric]
        end = np.minimum(stop, t_now)
        e = np.minimum(seg_end, end[ticket_pos])
        valid = running & (e > at)
        w0 = w0_all
        w1 = _worked(tables, np.where(valid, cal, -1), e)
        seg = np.where(valid, w1 - w0, 0.0)
        worked = np.bincount(ticket_pos, weights=seg, minlength=n)
        in_effect = at <= end[ticket_pos]
        current = np.maximum.reduceat(np.where(in_effect, rows, -1), first_row) if m else np.full(n, -1)
        has = current >= 0
        cur = np.where(has, current, 0)
        cur_pol = np.where(has, policy[cur], -1)
        target = targets[metric][cur_pol, priority[cur]]
        limit = target * 60
        cs = np.cumsum(seg)
        before = cs - seg - (cs[first_row] - seg[first_row])[ticket_pos]
        lim_rows = limit[ticket_pos]
        cross = valid & (before + seg > lim_rows) & (before <= lim_rows)
        breached_at = np.full(n, np.nan)
        breached_at[ticket_pos[cross]] = _moment(tables, cal[cross], w0[cross] + (lim_rows - before)[cross])
        elapsed = worked / 60
        cur_running = np.isin(status[cur], _RUNNING) & has
        is_stopped = stop <= t_now
        no_target = np.isnan(target)
        breached = (elapsed > target) | ((elapsed == target) & cur_running)
        breached_at = np.where(breached & np.isnan(breached_at), t_now, breached_at)
        state = np.select(
            [no_target, is_stopped & (elapsed > target), is_stopped, breached, ~cur_running, target - elapsed <= soon],
            [_CODE["none"], _CODE["missed"], _CODE["met"], _CODE["breached"], _CODE["paused"], _CODE["soon"]],
            _CODE["ok"],
        )
        cur_cal = cal_of_policy[cur_pol]
        project = cur_running & ~breached & ~is_stopped & ~no_target
        w_now = w_now_of_cal[cur_cal]
        projected = _moment(tables, np.where(project, cur_cal, -1), w_now + (target - elapsed) * 60)
        due = np.where(breached, breached_at, np.where(cur_running, projected, np.nan))
        due = np.where(is_stopped | no_target, np.nan, due)
        out[f"{metric}_state"] = state
        out[f"{metric}_elapsed"] = elapsed
        out[f"{metric}_target"] = target
        out[f"{metric}_due"] = due
        out[f"{metric}_breached"] = np.where(is_stopped | (state == _CODE["breached"]), breached_at, np.nan)
    out["state"] = np.minimum(out["first_response_state"], out["resolution_state"])
    return out


def history_arrays(frame: pd.DataFrame, ticket_ids: np.ndarray, policy_ids: Sequence[int]):
    """The arrays ``batch_sla`` takes from history rows (``ticket_id, at, to_status, priority, sla_policy_id``)."""
    frame = frame.sort_values(["ticket_id", "at", "id"] if "id" in frame else ["ticket_id", "at"], kind="stable")
    pos = pd.Index(ticket_ids).get_indexer(frame["ticket_id"])
    at = to_epoch(pd.to_datetime(frame["at"], utc=True, format="ISO8601"))
    status = pd.Categorical(frame["to_status"], categories=STATUSES).codes.astype(int)
    priority = pd.Categorical(frame["priority"].fillna("normal"), categories=PRIORITIES).codes.astype(int)
    priority = np.where(priority < 0, 1, priority)
    policy = pd.Index(list(policy_ids)).get_indexer(frame["sla_policy_id"])
    return pos, at, status, priority, policy


def to_epoch(times: pd.Series) -> np.ndarray:
    """Epoch seconds of a tz-aware datetime Series, whatever its resolution."""
    return times.dt.tz_convert(None).to_numpy().astype("datetime64[ms]").astype("int64") / 1e3


def as_frame(ticket_ids, result: dict[str, np.ndarray]) -> pd.DataFrame:
    """One row per ticket: state names and times as UTC timestamps."""
    frame = pd.DataFrame({"ticket_id": ticket_ids, "sla_state": np.asarray(SEVERITY)[result["state"]]})
    for metric in METRICS:
        frame[f"{metric}_state"] = np.asarray(SEVERITY)[result[f"{metric}_state"]]
        frame[f"{metric}_elapsed"] = result[f"{metric}_elapsed"].round(1)
        frame[f"{metric}_target"] = result[f"{metric}_target"]
        frame[f"{metric}_due"] = pd.to_datetime(result[f"{metric}_due"], unit="s", utc=True)
    return frame


def epoch(moment: datetime) -> float:
    return moment.astimezone(UTC).timestamp()
