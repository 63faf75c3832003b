"""CSAT % and NPS, overall and per agent or team, by SQL.

CSAT % = good answers / all CSAT answers × 100. NPS = % promoters (9–10) − % detractors (0–6)
of the NPS answers, from −100 to 100. Per agent and team by joining the service plugin's
``tickets`` when that table exists (CSAT answers are about a ticket; an NPS answer is
about the company, so it has no agent).
"""

from __future__ import annotations

from typing import Any

from crm_workspace import Metric

from .rules import table_exists


def csat_sql(p: str = "") -> str:
    """CSAT % over the rows (``p`` the table's alias and a dot)."""
    return f"round(100.0 * avg(CASE WHEN {p}kind = 'csat' THEN {p}score END), 1)"


def nps_sql(p: str = "") -> str:
    """NPS over the rows: % promoters − % detractors."""
    return (
        f"round(100.0 * (sum({p}kind = 'nps' AND {p}score >= 9) - sum({p}kind = 'nps' AND {p}score <= 6))"
        f" / nullif(sum({p}kind = 'nps'), 0), 1)"
    )


def _since(days: int | None) -> tuple[str, list]:
    if not days:
        return "1 = 1", []
    return "r.responded_at >= strftime('%Y-%m-%dT%H:%M:%SZ', 'now', ?)", [f"-{int(days)} days"]


def responses(
    ws: Any, kind: str | None = None, days: int | None = None, limit: int | None = None, contact_id: int | None = None
) -> list[dict]:
    """Answers, newest first, with the contact's name and (when tickets exist) the ticket's agent and team."""
    where, params = _since(days)
    if kind:
        where += " AND r.kind = ?"
        params.append(kind)
    if contact_id is not None:
        where += " AND r.contact_id = ?"
        params.append(int(contact_id))
    join, cols = "", "NULL AS assignee, NULL AS team"
    if table_exists(ws, "tickets"):
        join, cols = " LEFT JOIN tickets t ON t.id = r.ticket_id", "t.assignee, t.team"
    sql = (
        "SELECT r.id, r.kind, r.contact_id, trim(coalesce(c.first_name, '') || ' ' || coalesce(c.last_name, '')) AS"
        f" contact, r.ticket_id, r.score, r.comment, r.period, r.responded_at, {cols} FROM survey_responses r"
        f" LEFT JOIN contacts c ON c.id = r.contact_id{join} WHERE {where} ORDER BY r.responded_at DESC, r.id DESC"
    )
    if limit:
        sql += f" LIMIT {int(limit)}"
    return ws.query(sql, params)


def summary(ws: Any, by: str | None = None, days: int | None = 90) -> list[dict]:
    """CSAT % and NPS with their answer counts, overall or ``by`` ``agent`` or ``team``."""
    where, params = _since(days)
    group = {"agent": "t.assignee", "team": "t.team"}.get(by or "")
    if by and not group:
        from crm_workspace.errors import CrmError

        raise CrmError(f"summary by {by!r}: choose agent or team")
    if group and not table_exists(ws, "tickets"):
        return []
    csat = f"sum(r.kind = 'csat') AS csat_answers, {csat_sql('r.')} AS csat_pct"
    if group:  # CSAT only: an NPS answer is about the company, not an agent
        return ws.query(
            f"SELECT {group} AS {by}, {csat} FROM survey_responses r LEFT JOIN tickets t ON t.id = r.ticket_id"
            f" WHERE {where} AND r.kind = 'csat' GROUP BY {group} ORDER BY csat_answers DESC, {by}",
            params,
        )
    return ws.query(
        f"SELECT {csat}, sum(r.kind = 'nps') AS nps_answers, {nps_sql('r.')} AS nps FROM survey_responses r WHERE {where}",
        params,
    )


def weekly(ws: Any, days: int = 90) -> list[dict]:
    """CSAT % and NPS per week (the week's Monday)."""
    where, params = _since(days)
    return ws.query(
        "SELECT date(r.responded_at, '-' || ((strftime('%w', r.responded_at) + 6) % 7) || ' days') AS week,"
        f" sum(r.kind = 'csat') AS csat_answers, {csat_sql('r.')}"
        f" AS csat_pct, sum(r.kind = 'nps') AS nps_answers,"
        f" {nps_sql('r.')} AS nps"
        f" FROM survey_responses r WHERE {where} GROUP BY week ORDER BY week",
        params,
    )


def distribution(ws: Any, days: int = 90) -> list[dict]:
    """How many NPS answers gave each score 0–10."""
    where, params = _since(days)
    found = {
        r["score"]: r["n"]
        for r in ws.query(
            f"SELECT r.score, count(*) AS n FROM survey_responses r WHERE r.kind = 'nps' AND {where} GROUP BY r.score",
            params,
        )
    }
    return [{"score": s, "answers": found.get(s, 0)} for s in range(11)]


def churn_risk(ws: Any, limit: int | None = None) -> list[dict]:
    """Contacts with an open churn-risk flag from a survey answer, the latest first (``limit`` of them)."""
    return ws.query(
        "SELECT f.contact_id, trim(coalesce(c.first_name, '') || ' ' || coalesce(c.last_name, '')) AS contact,"
        " c.email, c.lifecycle_stage, f.reason, f.flagged_at FROM survey_flags f"
        " JOIN contacts c ON c.id = f.contact_id WHERE f.cleared_at IS NULL ORDER BY f.flagged_at DESC LIMIT ?",
        [-1 if limit is None else limit],  # SQLite: a negative limit is none
    )


#: contacts with an open churn-risk flag (one contact may have several flags)
FLAGGED_SQL = "SELECT count(DISTINCT contact_id) FROM survey_flags WHERE cleared_at IS NULL"


def churn_risk_count(ws: Any) -> int:
    """How many contacts have an open churn-risk flag."""
    return ws.store.scalar(FLAGGED_SQL) or 0


def kpis(ws: Any) -> list[Metric]:
    since = "responded_at >= strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-90 days')"
    csat = f"SELECT {csat_sql()} FROM survey_responses WHERE {since}"
    nps = f"SELECT {nps_sql()} FROM survey_responses WHERE {since}"
    return [
        Metric("surveys.csat", "CSAT (90 days)", ws.store.scalar(csat), sql=csat, fmt="{:.1f} %",
               help="good CSAT answers / all CSAT answers", page="surveys"),
        Metric("surveys.nps", "NPS (90 days)", ws.store.scalar(nps), sql=nps, fmt="{:+.0f}",
               help="% promoters (9-10) - % detractors (0-6)", page="surveys"),
        Metric("surveys.churn_flags", "Low survey scores (open)", churn_risk_count(ws),
               sql=FLAGGED_SQL, help="contacts whose low CSAT or NPS answer opened a churn-risk flag not yet cleared", page="surveys"),
    ]  # fmt: skip
