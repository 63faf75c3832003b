"""Service metrics in SQL: KPI cards, and the DataFrame views the page and analysts share.

First response and resolution times are business minutes, stored on each ticket when its
clock stops (``first_response_minutes``, ``resolution_minutes``); medians and p90 are
nearest-rank percentiles computed by window functions, per agent or team.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import pandas as pd

from crm_workspace import Metric

from . import clock
from .sla import iso

if TYPE_CHECKING:
    from crm_workspace import Workspace

OPEN_SQL = "SELECT count(*) FROM tickets WHERE is_open = 1"
# ``{now}``: the service clock's time (``clock.now_iso()``, which honours $CRM_NOW / $CRM_NOW_FILE like
# every SLA computation), written into the SQL as a literal so the card's SQL reproduces its number
BREACHED_SQL = "SELECT count(*) FROM tickets WHERE is_open = 1 AND sla_sort <= '{now}'"
COMPLIANCE_SQL = (
    "SELECT round(100.0 * avg(sla_breached = 0), 1) FROM tickets"
    " WHERE solved_at >= strftime('%Y-%m-%dT%H:%M:%SZ', '{now}', '-30 days')"
)

PERFORMANCE_SQL = """
WITH t AS (
    SELECT coalesce({group}, '(none)') AS grp, * FROM tickets WHERE created_at >= :since
),
fr AS (
    SELECT grp, first_response_minutes AS v, row_number() OVER (PARTITION BY grp ORDER BY first_response_minutes) AS rn,
           count(*) OVER (PARTITION BY grp) AS n FROM t WHERE first_response_minutes IS NOT NULL
),
res AS (
    SELECT grp, resolution_minutes AS v, row_number() OVER (PARTITION BY grp ORDER BY resolution_minutes) AS rn,
           count(*) OVER (PARTITION BY grp) AS n FROM t WHERE resolution_minutes IS NOT NULL
),
pct AS (
    SELECT grp,
        (SELECT min(v) FROM fr WHERE fr.grp = g.grp AND fr.rn >= 0.5 * fr.n) AS fr_median,
        (SELECT min(v) FROM fr WHERE fr.grp = g.grp AND fr.rn >= 0.9 * fr.n) AS fr_p90,
        (SELECT min(v) FROM res WHERE res.grp = g.grp AND res.rn >= 0.5 * res.n) AS res_median,
        (SELECT min(v) FROM res WHERE res.grp = g.grp AND res.rn >= 0.9 * res.n) AS res_p90
    FROM (SELECT DISTINCT grp FROM t) g
)
SELECT t.grp AS {label}, count(*) AS tickets, sum(t.solved_at IS NOT NULL) AS solved,
    round(p.fr_median / 60.0, 2) AS first_response_median_h, round(p.fr_p90 / 60.0, 2) AS first_response_p90_h,
    round(p.res_median / 60.0, 2) AS resolution_median_h, round(p.res_p90 / 60.0, 2) AS resolution_p90_h,
    round(100.0 * sum(t.solved_at IS NOT NULL AND t.sla_breached = 0) / max(sum(t.solved_at IS NOT NULL), 1), 1)
        AS sla_compliance_pct,
    round(100.0 * sum(t.reopened > 0) / max(sum(t.solved_at IS NOT NULL OR t.reopened > 0), 1), 1) AS reopen_rate_pct
FROM t JOIN pct p ON p.grp = t.grp
GROUP BY t.grp ORDER BY tickets DESC
"""

BACKLOG_SQL = """
SELECT CASE
        WHEN age < 1 THEN '1: under a day' WHEN age < 3 THEN '2: 1-3 days' WHEN age < 7 THEN '3: 3-7 days'
        WHEN age < 30 THEN '4: 7-30 days' ELSE '5: over 30 days' END AS age,
    sum(priority = 'urgent') AS urgent, sum(priority = 'high') AS high, sum(priority = 'normal') AS normal,
    sum(priority = 'low') AS low, count(*) AS total
FROM (SELECT priority, julianday(:now) - julianday(created_at) AS age FROM tickets WHERE is_open = 1)
GROUP BY 1 ORDER BY 1
"""


def kpis(workspace: Workspace) -> list[Metric]:
    store = workspace.store
    now = clock.now_iso()  # an ISO time of our own making: safe to write into the SQL text
    breached_sql, compliance_sql = BREACHED_SQL.format(now=now), COMPLIANCE_SQL.format(now=now)
    return [
        Metric(
            "service_open",
            "Open tickets",
            store.scalar(OPEN_SQL) or 0,
            sql=OPEN_SQL,
            help="New, open, pending and on-hold tickets",
            page="service",
        ),
        Metric(
            "service_breached",
            "Tickets past their SLA",
            store.scalar(breached_sql) or 0,
            sql=breached_sql,
            help="Open tickets whose first response or resolution target has passed",
            page="service",
        ),
        Metric(
            "service_compliance",
            "SLA compliance (30 days)",
            store.scalar(compliance_sql),
            sql=compliance_sql,
            fmt="{} %",
            help="Tickets solved in the last 30 days without a breach",
            page="service",
        ),
    ]


def performance(workspace: Workspace, group: str = "assignee", days: int = 90) -> pd.DataFrame:
    """First response and resolution (business hours: median, p90), SLA compliance and reopen rate per agent or team."""
    if group not in ("assignee", "team", "priority", "channel"):
        raise ValueError("group by assignee, team, priority or channel")
    since = iso(clock.now() - timedelta(days=int(days)))
    return workspace.df(PERFORMANCE_SQL.format(group=group, label=group), since=since)


def backlog(workspace: Workspace) -> pd.DataFrame:
    """Open tickets by age and priority."""
    return workspace.df(BACKLOG_SQL, now=clock.now_iso())


def sla(workspace: Workspace, limit: int | None = None) -> pd.DataFrame:
    """The SLA state of every open ticket now (the vectorised replay of their status history)."""
    from .rules import load_policies
    from .sla_batch import as_frame, batch_sla, history_arrays, to_epoch

    tickets = workspace.df(
        "SELECT id, first_response_at FROM tickets WHERE is_open = 1 ORDER BY id" + (" LIMIT :limit" if limit else ""),
        **({"limit": int(limit)} if limit else {}),
    )
    history = workspace.df(
        "SELECT h.id, h.ticket_id, h.at, h.to_status, h.priority, h.sla_policy_id FROM ticket_status_history h"
        " JOIN (SELECT id FROM tickets WHERE is_open = 1 ORDER BY id" + (" LIMIT :limit" if limit else "") + ") t"
        " ON t.id = h.ticket_id",
        **({"limit": int(limit)} if limit else {}),
    )
    policies = load_policies(workspace.store)
    ids = tickets["id"].to_numpy()
    have = set(history["ticket_id"])
    keep = [i for i in ids if i in have]
    if not keep:
        return as_frame(
            [],
            {
                k: []
                for k in (
                    "state",
                    "first_response_state",
                    "resolution_state",
                    "first_response_elapsed",
                    "resolution_elapsed",
                    "first_response_target",
                    "resolution_target",
                    "first_response_due",
                    "resolution_due",
                )
            },
        )
    tickets = tickets[tickets["id"].isin(keep)]
    arrays = history_arrays(history, tickets["id"].to_numpy(), list(policies))
    first = pd.to_datetime(tickets["first_response_at"], utc=True, format="ISO8601")
    first_epoch = to_epoch(first.fillna(pd.Timestamp(0, tz="UTC")))
    first_epoch[first.isna().to_numpy()] = float("nan")
    soon = float(workspace.setting("service_sla_soon_minutes", 60) or 60)
    result = batch_sla(*arrays, first_epoch, list(policies.values()), clock.now(), soon=soon)
    return as_frame(tickets["id"].to_numpy(), result)


def data_views(workspace: Workspace) -> dict:
    from . import queue as q

    def bind(fn):
        def view(**filters):
            return fn(workspace, **filters)

        view.__doc__ = fn.__doc__
        return view

    def queue_view(view: str = "open", limit: int = 50, **filters):
        """One page of the queue (the rows the Service page lists for the same view and filters)."""
        rows, _ = q.page(workspace, q.Filters(view=view, **filters), limit=int(limit))
        return pd.DataFrame(rows)

    return {
        "service.queue": queue_view,
        "service.sla": bind(sla),
        "service.performance": bind(performance),
        "service.backlog": bind(backlog),
    }
