"""The lifecycle numbers, computed in SQL: funnel, time in stage, cohorts, flow, journey.

Every function takes the workspace and the same filters (``start``/``end`` as
``YYYY-MM-DD`` dates, both inclusive, and ``owner`` of the contact) and returns
a DataFrame of exactly what the dashboard draws. The heavy lifting (grouping,
window functions over ~millions of events) happens in SQLite; Python only
reshapes the few dozen aggregated rows that come back.

Definitions (documented here once, used everywhere):

- *forward stages*: the workspace's ``lifecycle_stages()`` in order, except
  ``churned`` (off the forward path).
- *reached a stage in the period*: the contact has an event in the period whose
  ``to_stage`` is that stage **or any later forward stage** (a contact who skips
  "opportunity" on the way to "customer" still passed it), so the funnel tapers.
- *conversion* of a stage: reached(next stage) / reached(stage).
- *time in stage*: from an event to the contact's next event (``LEAD(at) OVER
  (PARTITION BY contact_id ORDER BY at)``), for stays that began in the period
  and have ended; median and p90 are nearest-rank percentiles.
- *cohort*: the month of a contact's first event; shares count every later event.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

import pandas as pd

OFF_PATH = ("churned",)
CHURNED = "churned"


def forward_stages(ws) -> list[str]:
    return [s for s in ws.lifecycle_stages() if s not in OFF_PATH]


def _day_after(value: str) -> str:
    return (date.fromisoformat(str(value)[:10]) + timedelta(days=1)).isoformat()


def _where(
    alias: str, start: Any = None, end: Any = None, owner: str | None = None, *, period: bool = True
) -> tuple[str, dict]:
    """SQL conditions (and their named parameters) for the shared filters on an events table alias."""
    parts, params = ["1"], {}
    if period and start:
        parts.append(f"{alias}.at >= :start")
        params["start"] = str(start)[:10]
    if period and end:
        parts.append(f"{alias}.at < :end")
        params["end"] = _day_after(end)
    if owner:
        parts.append(f"{alias}.contact_id IN (SELECT id FROM contacts WHERE owner = :owner)")
        params["owner"] = owner
    return " AND ".join(parts), params


def _rank_case(column: str, stages: list[str], params: dict) -> str:
    """``CASE column WHEN :s0 THEN 0 ... END``: a stage's position on the forward path (NULL off it)."""
    whens = []
    for i, stage in enumerate(stages):
        params[f"s{i}"] = stage
        whens.append(f"WHEN :s{i} THEN {i}")
    return f"CASE {column} {' '.join(whens)} END"


#: The share of the events' history a period must span for ``_by_contact``.
CONTACT_ORDER_FROM = 0.25


def _by_contact(ws, start: Any, end: Any) -> str:
    """``INDEXED BY`` the contact index when the period spans a fair share of the events' history.

    Grouping a period's events by contact, SQLite reads the period from the time index and
    sorts it; reading every event in contact order needs no sort, and wins once the period
    holds a fair share of them. Measured at 100k contacts (287k events, 18 months): the last
    year 170 -> 82 ms, the last 6 months 91 -> 58, 3 months 52 -> 41; one month (7% of the
    events) 12 -> 26 ms, where the period's range wins. Without a period SQLite reads in
    contact order itself. The share is of time, not of events (two index probes, where
    counting the period's events would read them): a quarter of the history that holds few
    events, before a large import say, is read in contact order, at most the whole index.
    """
    if not start and not end:
        return ""
    row = ws.store.query("SELECT min(at) AS lo, max(at) AS hi FROM lifecycle_events")[0]
    if not row["lo"]:
        return ""
    first, last = date.fromisoformat(row["lo"][:10]), date.fromisoformat(row["hi"][:10]) + timedelta(days=1)
    begin = max(first, date.fromisoformat(str(start)[:10])) if start else first
    finish = min(last, date.fromisoformat(_day_after(end))) if end else last
    share = (finish - begin).days / max((last - first).days, 1)
    return " INDEXED BY idx_lifecycle_contact_stage" if share >= CONTACT_ORDER_FROM else ""


# ------------------------------------------------------------------ funnel
def funnel(ws, start=None, end=None, owner=None) -> pd.DataFrame:
    """Contacts reaching each forward stage in the period, and stage-to-stage conversion."""
    stages = forward_stages(ws)
    where, params = _where("e", start, end, owner)
    rank = _rank_case("e.to_stage", stages, params)
    # conditional sums, not GROUP BY top: no sort of one row per contact
    sums = ", ".join(f"sum(top = {i}) AS t{i}" for i in range(len(stages)))
    row = (
        ws.store.query(
            f"SELECT {sums} FROM (SELECT max({rank}) AS top FROM lifecycle_events e{_by_contact(ws, start, end)}"
            f" WHERE {where} GROUP BY e.contact_id)",
            params,
        )[0]
        if stages
        else {}
    )
    by_top = {i: row.get(f"t{i}") or 0 for i in range(len(stages))}
    reached, running = [], 0
    for i in range(len(stages) - 1, -1, -1):
        running += by_top.get(i, 0)
        reached.append(running)
    reached.reverse()
    conversion = [
        (reached[i + 1] / reached[i] if reached[i] else None) if i + 1 < len(stages) else None
        for i in range(len(stages))
    ]
    top = reached[0] if reached else 0
    return pd.DataFrame(
        {
            "stage": stages,
            "reached": reached,
            "conversion_to_next": conversion,
            "share_of_first": [(n / top if top else None) for n in reached],
        }
    )


# ----------------------------------------------------------- time in stage
def time_in_stage(ws, start=None, end=None, owner=None) -> pd.DataFrame:
    """Median and p90 days per stage of completed stays that began in the period."""
    where, params = _where("s", start, end, owner)
    counts = ws.store.query(
        f"SELECT s.stage, count(*) AS stays, avg(s.days) AS mean_days FROM lifecycle_stays s"
        f" WHERE s.days IS NOT NULL AND {where} GROUP BY s.stage",
        params,
    )
    found = {}
    for row in counts:
        record = {"stage": row["stage"], "stays": row["stays"]}
        for name, share in (("median_days", 0.5), ("p90_days", 0.9)):
            # nearest rank: the smallest value whose rank r satisfies r >= share * n
            rank = max(1, math.ceil(round(share * row["stays"], 9)))
            record[name] = ws.store.scalar(
                f"SELECT s.days FROM lifecycle_stays s WHERE s.stage = :stage AND s.days IS NOT NULL AND {where}"
                " ORDER BY s.days LIMIT 1 OFFSET :skip",
                {**params, "stage": row["stage"], "skip": rank - 1},
            )
        record["mean_days"] = row["mean_days"]
        found[row["stage"]] = record
    return _time_frame(ws, found)


def _time_frame(ws, found: dict) -> pd.DataFrame:
    order = [s for s in ws.lifecycle_stages() if s in found] + sorted(set(found) - set(ws.lifecycle_stages()))
    frame = pd.DataFrame([found[s] for s in order], columns=["stage", "stays", "median_days", "p90_days", "mean_days"])
    return frame.round({"median_days": 2, "p90_days": 2, "mean_days": 2})


def time_in_stage_window(ws, start=None, end=None, owner=None) -> pd.DataFrame:
    """``time_in_stage`` straight from the events with window functions (no ``lifecycle_stays``)."""
    where, params = _where("s", start, end, None)
    owner_where, owner_params = _where("e", owner=owner, period=False)
    params.update(owner_params)
    rows = ws.store.query(
        f"""
        WITH stays AS (
            SELECT e.contact_id, e.to_stage AS stage, e.at,
                   LEAD(e.at) OVER (PARTITION BY e.contact_id ORDER BY e.at, e.id) AS next_at
            FROM lifecycle_events e WHERE {owner_where}
        ), done AS (
            SELECT s.stage, julianday(s.next_at) - julianday(s.at) AS days
            FROM stays s WHERE s.next_at IS NOT NULL AND {where}
        ), ranked AS (
            SELECT stage, days, ROW_NUMBER() OVER (PARTITION BY stage ORDER BY days) AS rn,
                   COUNT(*) OVER (PARTITION BY stage) AS n
            FROM done
        )
        SELECT stage, max(n) AS stays,
               min(CASE WHEN rn >= 0.5 * n THEN days END) AS median_days,
               min(CASE WHEN rn >= 0.9 * n THEN days END) AS p90_days,
               avg(days) AS mean_days
        FROM ranked GROUP BY stage
        """,
        params,
    )
    return _time_frame(ws, {row["stage"]: row for row in rows})


def stuck(ws, owner=None, limit: int = 10, now: str | None = None) -> pd.DataFrame:
    """Contacts longest in their current stage, among stages before the customer stage."""
    stages = forward_stages(ws)
    target = _customer_stage(ws)
    waiting = stages[: stages.index(target)] if target in stages else stages[:-1]
    if not waiting:
        return pd.DataFrame(columns=["contact_id", "name", "stage", "since", "days", "owner"])
    params: dict[str, Any] = {f"w{i}": s for i, s in enumerate(waiting)}
    params["limit"] = int(limit)
    params["now"] = now or _now()
    owner_sql = ""
    if owner:
        owner_sql = " AND c.owner = :owner"
        params["owner"] = owner
    placeholders = ", ".join(f":w{i}" for i in range(len(waiting)))
    rows = ws.store.query(
        f"""
        SELECT c.id AS contact_id, trim(coalesce(c.first_name, '') || ' ' || coalesce(c.last_name, '')) AS name,
               c.lifecycle_stage AS stage, last.at AS since,
               round(julianday(:now) - julianday(last.at), 1) AS days, c.owner
        FROM (SELECT contact_id, max(at) AS at FROM lifecycle_events GROUP BY contact_id) last
        JOIN contacts c ON c.id = last.contact_id
        WHERE c.lifecycle_stage IN ({placeholders}){owner_sql}
        ORDER BY last.at, c.id LIMIT :limit
        """,
        params,
    )
    return pd.DataFrame(rows, columns=["contact_id", "name", "stage", "since", "days", "owner"])


def _customer_stage(ws) -> str:
    from .rules import rules

    return rules(ws)["won_deal"]["stage"]


def _now() -> str:
    from crm_workspace.data.store import utcnow

    return utcnow()


# ------------------------------------------------------------------ cohorts
def cohorts(ws, start=None, end=None, owner=None) -> pd.DataFrame:
    """Contacts by month of their first event, and the share that reached each forward stage since."""
    stages = forward_stages(ws)
    owner_where, params = _where("e", owner=owner, period=False)
    rank = _rank_case("e.to_stage", stages, params)
    having = []
    if start:
        having.append("entered >= :start")
        params["start"] = str(start)[:10]
    if end:
        having.append("entered < :end")
        params["end"] = _day_after(end)
    outer = f"WHERE {' AND '.join(having)}" if having else ""
    sums = "".join(f", sum(top >= {i}) AS r{i}" for i in range(len(stages)))
    rows = ws.store.query(
        f"""
        SELECT substr(entered, 1, 7) AS cohort, count(*) AS n{sums} FROM (
            SELECT min(e.at) AS entered, max({rank}) AS top
            FROM lifecycle_events e WHERE {owner_where} GROUP BY e.contact_id
        ) {outer}
        GROUP BY cohort ORDER BY cohort
        """,
        params,
    )
    records = []
    for row in rows:
        record: dict[str, Any] = {"cohort": row["cohort"], "entered": row["n"]}
        for i, stage in enumerate(stages):
            record[stage] = round((row[f"r{i}"] or 0) / row["n"], 4) if row["n"] else None
        records.append(record)
    return pd.DataFrame(records, columns=["cohort", "entered", *stages])


# --------------------------------------------------------------------- flow
def flow(ws, start=None, end=None, owner=None) -> pd.DataFrame:
    """Moves between stages in the period: from → to, with the direction of each move."""
    where, params = _where("e", start, end, owner)
    rows = ws.store.query(
        f"SELECT e.from_stage, e.to_stage, count(*) AS moves FROM lifecycle_events e WHERE {where}"
        " GROUP BY e.from_stage, e.to_stage",
        params,
    )
    order = {s: i for i, s in enumerate(forward_stages(ws))}
    records = []
    for row in rows:
        source, target = row["from_stage"], row["to_stage"]
        if target in OFF_PATH:
            direction = "churn"
        elif source is None:
            direction = "entry"
        elif source in OFF_PATH:
            direction = "return"
        elif order.get(target, -1) < order.get(source, -1):
            direction = "backward"
        else:
            direction = "forward"
        records.append(
            {"from_stage": source or "(new)", "to_stage": target, "moves": row["moves"], "direction": direction}
        )
    stages = ws.lifecycle_stages()
    position = {s: i for i, s in enumerate(["(new)", *stages])}
    records.sort(key=lambda r: (position.get(r["from_stage"], 99), position.get(r["to_stage"], 99)))
    return pd.DataFrame(records, columns=["from_stage", "to_stage", "moves", "direction"])


# ------------------------------------------------------------------ journey
def function_of(ws, stage: str | None) -> str:
    """Which function owns a contact at ``stage``: marketing before sales-qualified, sales until
    customer, service from customer on (and for churned contacts)."""
    stages = forward_stages(ws)
    if stage is None or stage not in stages:
        return "service" if stage in OFF_PATH else "marketing"
    index = stages.index(stage)
    sales_from = stages.index("sales_qualified") if "sales_qualified" in stages else len(stages) // 2
    target = _customer_stage(ws)
    service_from = stages.index(target) if target in stages else len(stages)
    if index >= service_from:
        return "service"
    return "sales" if index >= sales_from else "marketing"


def journey(ws, contact_id: int | None = None, **_filters) -> pd.DataFrame:
    """One contact's stage changes and touchpoints (activities) in time order, each with its function."""
    columns = ["at", "type", "stage", "from_stage", "detail", "function", "by"]
    if contact_id is None:
        return pd.DataFrame(columns=columns)
    events = ws.store.query(
        "SELECT at, from_stage, to_stage, by, flagged FROM lifecycle_events WHERE contact_id = ? ORDER BY at, id",
        [int(contact_id)],
    )
    touches = ws.store.query(
        "SELECT occurred_at AS at, kind, channel, subject, owner FROM activities"
        " WHERE contact_id = ? AND occurred_at IS NOT NULL ORDER BY occurred_at, id",
        [int(contact_id)],
    )
    records = [
        {
            "at": e["at"],
            "type": "stage",
            "stage": e["to_stage"],
            "from_stage": e["from_stage"],
            "detail": f"{e['from_stage'] or '(new)'} → {e['to_stage']}"
            + (f" [flagged: {e['flagged']}]" if e["flagged"] else ""),
            "function": function_of(ws, e["to_stage"]),
            "by": e["by"],
        }
        for e in events
    ]
    for touch in touches:
        current = None
        for e in events:
            if e["at"] <= touch["at"]:
                current = e["to_stage"]
        records.append(
            {
                "at": touch["at"],
                "type": touch["kind"],
                "stage": current,
                "from_stage": None,
                "detail": f"{touch['kind']} via {touch['channel'] or '—'}: {touch['subject'] or ''}".strip(),
                "function": function_of(ws, current),
                "by": touch["owner"],
            }
        )
    records.sort(key=lambda r: (r["at"], r["type"] != "stage"))
    return pd.DataFrame(records, columns=columns)
