"""Adoption, data quality and business KPIs: each one SQL query, shown on the home page.

``kpis(ws)`` returns ``(key, label, sql, params, fmt, help)`` rows; the home page
cards, ``ws.df("lifecycle.data_quality")`` and the lifecycle page's "Metrics"
section all read from here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from crm_workspace import Metric


def _month_start(now: datetime) -> str:
    return now.strftime("%Y-%m-01")


def _week_start(now: datetime) -> str:
    return (now - timedelta(days=now.weekday())).strftime("%Y-%m-%d")


def _months_ago(now: datetime, months: int) -> str:
    year, month = now.year, now.month - months
    while month <= 0:
        month += 12
        year -= 1
    return f"{year:04d}-{month:02d}-{min(now.day, 28):02d}"


_SHARE = "round(100.0 * {expr} / max(count(*), 1), 1)"
_COMPLETE = (
    "coalesce(email, '') != '' AND coalesce(phone, '') != '' AND coalesce(owner, '') != ''"
    " AND organization_id IS NOT NULL"
)


def kpi_queries(ws, now: datetime | None = None) -> list[tuple[str, str, str, str, str]]:
    """(key, label, sql, fmt, help) for every KPI card; the SQL has the dates written in."""
    from .rules import rules

    now = now or datetime.now(UTC)
    month, week = _month_start(now), _week_start(now)
    months = int(rules(ws)["churn_risk"]["months"])
    quiet_since = _months_ago(now, months)
    customer = rules(ws)["won_deal"]["stage"]
    stages = [s for s in ws.lifecycle_stages() if s != "churned"]
    after = stages[stages.index(customer) :] if customer in stages else [customer]
    customer_list = ", ".join("'" + s.replace("'", "''") + "'" for s in after)
    lead_rank = stages.index("lead") if "lead" in stages else 0
    reached_lead = ", ".join("'" + s.replace("'", "''") + "'" for s in stages[lead_rank:])
    pct = "{:.1f} %"
    return [
        # adoption
        (
            "active_users_week",
            "Active users this week",
            f"SELECT count(DISTINCT user) FROM audit_log WHERE at >= '{week}'",
            "{:,}",
            "people who changed anything since Monday (audit trail)",
        ),
        (
            "idle_users_month",
            "Users with no change this month",
            "SELECT count(*) FROM users WHERE coalesce(active, 1) = 1 AND username NOT IN"
            f" (SELECT DISTINCT user FROM audit_log WHERE at >= '{month}' AND user IS NOT NULL)",
            "{:,}",
            "active accounts without a single change this month",
        ),
        (
            "new_contacts_month",
            "New contacts this month",
            f"SELECT count(*) FROM contacts WHERE created_at >= '{month}'",
            "{:,}",
            "",
        ),
        (
            "new_organizations_month",
            "New organizations this month",
            f"SELECT count(*) FROM organizations WHERE created_at >= '{month}'",
            "{:,}",
            "",
        ),
        (
            "new_deals_month",
            "New deals this month",
            f"SELECT count(*) FROM deals WHERE created_at >= '{month}'",
            "{:,}",
            "",
        ),
        # data quality
        *[
            (
                f"missing_{field}",
                f"Contacts missing {label}",
                f"SELECT {_SHARE.format(expr=f'sum({test})')} FROM contacts",
                pct,
                "share of contacts",
            )
            for field, label, test in (
                ("email", "email", "coalesce(email, '') = ''"),
                ("phone", "phone", "coalesce(phone, '') = ''"),
                ("owner", "owner", "coalesce(owner, '') = ''"),
                ("organization", "organization", "organization_id IS NULL"),
            )
        ],
        (
            "complete_contacts",
            "Fully populated contacts",
            f"SELECT {_SHARE.format(expr=f'sum({_COMPLETE})')} FROM contacts",
            pct,
            "email, phone, owner and organization all filled in",
        ),
        (
            "probable_duplicates",
            "Probable duplicate contacts",
            "SELECT (SELECT coalesce(sum(n), 0) FROM (SELECT count(*) AS n FROM contacts"
            " WHERE coalesce(email, '') != '' GROUP BY lower(email) HAVING n > 1))"
            " + (SELECT coalesce(sum(n), 0) FROM (SELECT count(*) AS n FROM contacts"
            " WHERE coalesce(first_name, '') != '' AND coalesce(last_name, '') != ''"
            " GROUP BY lower(first_name), lower(last_name), coalesce(organization_id, 0) HAVING n > 1))",
            "{:,}",
            "contacts sharing an email, or a first and last name within one organization",
        ),
        # business
        (
            "win_rate",
            "Win rate",
            "SELECT round(100.0 * sum(status = 'won') / nullif(sum(status IN ('won', 'lost')), 0), 1) FROM deals",
            pct,
            "won / (won + lost) deals",
        ),
        (
            "lead_to_customer",
            "Conversion lead → customer",
            "SELECT round(100.0 * count(DISTINCT CASE WHEN to_stage IN"
            f" ({customer_list}) THEN contact_id END) / nullif(count(DISTINCT contact_id), 0), 1)"
            f" FROM lifecycle_events WHERE to_stage IN ({reached_lead})",
            pct,
            "of contacts who reached lead (or later), the share that became customers",
        ),
        (
            "churn_rate",
            "Churn",
            f"SELECT round(100.0 * sum(lifecycle_stage = 'churned') / nullif(sum(lifecycle_stage IN ({customer_list},"
            " 'churned')), 0), 1) FROM contacts",
            pct,
            "churned / (customers + advocates + churned); retention is 100 % minus this",
        ),
        (
            "churn_risk",
            f"Customers inactive {months}+ months",
            f"SELECT count(*) FROM contacts c WHERE c.lifecycle_stage IN ({customer_list}) AND NOT EXISTS"
            f" (SELECT 1 FROM activities a WHERE a.contact_id = c.id AND a.occurred_at >= '{quiet_since}')",
            "{:,}",
            f"customers with no activity for {months} months (rule 'churn_risk')",
        ),
    ]


def kpis(ws, now: datetime | None = None) -> list[Metric]:
    from .rules import rules

    if not rules(ws)["churn_risk"]["enabled"]:
        queries = [q for q in kpi_queries(ws, now) if q[0] != "churn_risk"]
    else:
        queries = kpi_queries(ws, now)
    return [
        Metric(key, label, ws.store.scalar(sql), sql=sql, fmt=fmt, help=help, page="lifecycle")
        for key, label, sql, fmt, help in queries
    ]


def churn_risk(ws, now: datetime | None = None, limit: int = 50) -> pd.DataFrame:
    """Customers with no activity for the configured number of months (a list, nothing written)."""
    from .rules import rules

    now = now or datetime.now(UTC)
    config = rules(ws)
    since = _months_ago(now, int(config["churn_risk"]["months"]))
    customer = config["won_deal"]["stage"]
    stages = [s for s in ws.lifecycle_stages() if s != "churned"]
    after = stages[stages.index(customer) :] if customer in stages else [customer]
    params: dict[str, Any] = {f"c{i}": s for i, s in enumerate(after)}
    params.update(since=since, limit=int(limit))
    placeholders = ", ".join(f":c{i}" for i in range(len(after)))
    return ws.df(
        "SELECT c.id AS contact_id, trim(coalesce(c.first_name, '') || ' ' || coalesce(c.last_name, '')) AS name,"
        " c.lifecycle_stage AS stage, c.owner,"
        " (SELECT max(occurred_at) FROM activities a WHERE a.contact_id = c.id) AS last_activity"
        f" FROM contacts c WHERE c.lifecycle_stage IN ({placeholders}) AND NOT EXISTS"
        " (SELECT 1 FROM activities a WHERE a.contact_id = c.id AND a.occurred_at >= :since)"
        " ORDER BY last_activity IS NOT NULL, last_activity, c.id LIMIT :limit",
        **params,
    )


# ------------------------------------------------------------- monthly series
def adoption(ws, start=None, end=None, **_filters) -> pd.DataFrame:
    """Per month: active users (audit trail), changes, new contacts, organizations and deals."""
    from .analytics import _day_after

    params: dict[str, Any] = {"start": str(start)[:10] if start else "0000", "end": _day_after(end) if end else "9999"}
    series = {
        "active_users": "SELECT substr(at, 1, 7) AS month, count(DISTINCT user) AS n FROM audit_log"
        " WHERE at >= :start AND at < :end GROUP BY month",
        "changes": "SELECT substr(at, 1, 7) AS month, count(*) AS n FROM audit_log"
        " WHERE at >= :start AND at < :end GROUP BY month",
        "new_contacts": "SELECT substr(created_at, 1, 7) AS month, count(*) AS n FROM contacts"
        " WHERE created_at >= :start AND created_at < :end GROUP BY month",
        "new_organizations": "SELECT substr(created_at, 1, 7) AS month, count(*) AS n FROM organizations"
        " WHERE created_at >= :start AND created_at < :end GROUP BY month",
        "new_deals": "SELECT substr(created_at, 1, 7) AS month, count(*) AS n FROM deals"
        " WHERE created_at >= :start AND created_at < :end GROUP BY month",
    }
    table: dict[str, dict[str, int]] = {}
    for name, sql in series.items():
        for row in ws.store.query(sql, params):
            if row["month"]:
                table.setdefault(row["month"], {})[name] = row["n"]
    records = [
        {"month": month, **{name: values.get(name, 0) for name in series}} for month, values in sorted(table.items())
    ]
    return pd.DataFrame(records, columns=["month", *series])


def data_quality(ws, owner=None, **_filters) -> pd.DataFrame:
    """Per key contact field: how many contacts miss it and the share; plus fully populated and duplicates."""
    where, params = ("WHERE owner = :owner", {"owner": owner}) if owner else ("", {})
    row = ws.store.query(
        "SELECT count(*) AS total,"
        " sum(coalesce(email, '') = '') AS email, sum(coalesce(phone, '') = '') AS phone,"
        " sum(coalesce(owner, '') = '') AS owner, sum(organization_id IS NULL) AS organization,"
        f" sum({_COMPLETE}) AS complete FROM contacts {where}",
        params,
    )[0]
    duplicates = ws.store.scalar(
        "SELECT coalesce(sum(n), 0) FROM (SELECT count(*) AS n FROM contacts"
        f" {where + ' AND' if where else 'WHERE'} coalesce(email, '') != '' GROUP BY lower(email) HAVING n > 1)",
        params,
    )
    total = row["total"] or 0
    records = [
        {
            "measure": f"missing {name}",
            "contacts": row[name] or 0,
            "share": round((row[name] or 0) / total, 4) if total else None,
        }
        for name in ("email", "phone", "owner", "organization")
    ]
    records.append(
        {
            "measure": "fully populated",
            "contacts": row["complete"] or 0,
            "share": round((row["complete"] or 0) / total, 4) if total else None,
        }
    )
    records.append(
        {"measure": "duplicate email", "contacts": duplicates, "share": round(duplicates / total, 4) if total else None}
    )
    return pd.DataFrame(records, columns=["measure", "contacts", "share"])
