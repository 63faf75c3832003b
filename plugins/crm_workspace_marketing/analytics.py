"""Campaign analytics in SQL: sent, delivered, bounced, unique opens, clicks, unsubscribes, sign-ups,
and the deals and revenue campaigns influenced (first- and last-touch).

People only: events the machine rules flagged never count. Every function returns a
DataFrame whose ``attrs["sql"]`` is the query, so a notebook reproduces each number.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from crm_workspace import Workspace

STATS_SQL = """
WITH ledger AS (
  SELECT CAST(ref_id AS INTEGER) AS campaign_id,
         sum(status = 'sent') AS sent, sum(status IN ('queued', 'sending')) AS queued,
         sum(status = 'failed') AS failed, sum(status = 'unknown') AS unknown
  FROM mail_outbox WHERE plugin = 'marketing' AND ref_table = 'campaigns' GROUP BY ref_id),
people AS (
  SELECT e.campaign_id,
         count(DISTINCT CASE WHEN e.kind = 'open' THEN e.contact_id END) AS unique_opens,
         count(CASE WHEN e.kind = 'click' THEN 1 END) AS clicks,
         count(DISTINCT CASE WHEN e.kind = 'click' THEN e.contact_id END) AS unique_clicks,
         count(DISTINCT CASE WHEN e.kind = 'unsubscribe' THEN e.contact_id END) AS unsubscribes,
         count(DISTINCT CASE WHEN e.kind = 'bounce' THEN e.contact_id END) AS bounced,
         count(DISTINCT CASE WHEN e.kind = 'bounce' AND coalesce(o.status, 'sent') = 'sent' THEN e.contact_id END)
           AS bounced_after_sending
  FROM marketing_events e LEFT JOIN mail_outbox o ON o.id = e.outbox_id
  WHERE e.machine = 0 AND e.campaign_id IS NOT NULL GROUP BY e.campaign_id),
machines AS (
  SELECT campaign_id, count(*) AS machine_events FROM marketing_events WHERE machine = 1 GROUP BY campaign_id)
SELECT c.id, c.name, c.status, s.name AS segment, c.started_at, c.sent_at,
       coalesce(l.sent, 0) AS sent, coalesce(l.queued, 0) AS queued, coalesce(l.failed, 0) AS failed,
       coalesce(p.bounced, 0) AS bounced, max(coalesce(l.sent, 0) - coalesce(p.bounced_after_sending, 0), 0) AS delivered,
       coalesce(p.unique_opens, 0) AS unique_opens, coalesce(p.clicks, 0) AS clicks,
       coalesce(p.unique_clicks, 0) AS unique_clicks, coalesce(p.unsubscribes, 0) AS unsubscribes,
       coalesce(m.machine_events, 0) AS machine_events,
       round(1.0 * coalesce(p.unique_opens, 0) / nullif(max(coalesce(l.sent, 0) - coalesce(p.bounced_after_sending, 0), 0), 0), 4)
         AS open_rate,
       round(1.0 * coalesce(p.unique_clicks, 0) / nullif(max(coalesce(l.sent, 0) - coalesce(p.bounced_after_sending, 0), 0), 0), 4)
         AS click_rate
FROM campaigns c
LEFT JOIN segments s ON s.id = c.segment_id
LEFT JOIN ledger l ON l.campaign_id = c.id
LEFT JOIN people p ON p.campaign_id = c.id
LEFT JOIN machines m ON m.campaign_id = c.id
ORDER BY coalesce(c.started_at, c.created_at) DESC, c.id DESC
"""

#: Deals of contacts a campaign touched (a human open or click before the deal was created, within
#: the window), credited to the first and to the last such campaign; influenced deals and pipeline
#: count each deal once for every campaign that touched it.
ATTRIBUTION_SQL = """
WITH touches AS (
  SELECT d.id AS deal_id, d.amount, d.status, e.campaign_id, e.at,
         row_number() OVER (PARTITION BY d.id ORDER BY e.at, e.id) AS first_rank,
         row_number() OVER (PARTITION BY d.id ORDER BY e.at DESC, e.id DESC) AS last_rank,
         row_number() OVER (PARTITION BY d.id, e.campaign_id ORDER BY e.at, e.id) AS campaign_rank
  FROM deals d JOIN marketing_events e ON e.contact_id = d.contact_id
  WHERE e.machine = 0 AND e.kind IN ('open', 'click') AND e.campaign_id IS NOT NULL
    AND e.at <= d.created_at AND julianday(d.created_at) - julianday(e.at) <= :days)
SELECT c.id, c.name,
       count(DISTINCT CASE WHEN t.first_rank = 1 THEN t.deal_id END) AS first_touch_deals,
       coalesce(sum(CASE WHEN t.first_rank = 1 AND t.status = 'won' THEN t.amount END), 0) AS first_touch_revenue,
       count(DISTINCT CASE WHEN t.last_rank = 1 THEN t.deal_id END) AS last_touch_deals,
       coalesce(sum(CASE WHEN t.last_rank = 1 AND t.status = 'won' THEN t.amount END), 0) AS last_touch_revenue,
       count(DISTINCT t.deal_id) AS influenced_deals,
       coalesce(sum(CASE WHEN t.campaign_rank = 1 THEN t.amount END), 0) AS influenced_pipeline
FROM campaigns c LEFT JOIN touches t ON t.campaign_id = c.id
GROUP BY c.id ORDER BY c.id DESC
"""

FORMS_SQL = """
SELECT f.id, f.slug, f.title, f.status,
       (SELECT count(*) FROM form_submissions s WHERE s.form_id = f.id) AS submissions,
       (SELECT count(*) FROM form_submissions s WHERE s.form_id = f.id AND s.confirmed_at IS NOT NULL) AS confirmed
FROM forms f ORDER BY f.id
"""

DAILY_SQL = """
SELECT substr(at, 1, 10) AS day,
       count(DISTINCT CASE WHEN kind = 'open' THEN campaign_id || ':' || contact_id END) AS unique_opens,
       count(CASE WHEN kind = 'click' THEN 1 END) AS clicks,
       count(CASE WHEN kind = 'unsubscribe' THEN 1 END) AS unsubscribes,
       count(CASE WHEN kind = 'signup' THEN 1 END) AS signups
FROM marketing_events WHERE machine = 0 AND at >= :since GROUP BY day ORDER BY day
"""


def _frame(workspace: Workspace, sql: str, **params: Any) -> pd.DataFrame:
    frame = workspace.df(sql, **params)
    frame.attrs["sql"] = sql.strip()
    return frame


def campaign_stats(workspace: Workspace) -> pd.DataFrame:
    """Per campaign: sent, queued, failed, bounced, delivered, unique opens, clicks, unsubscribes, rates."""
    return _frame(workspace, STATS_SQL)


def attribution(workspace: Workspace, days: int = 90) -> pd.DataFrame:
    """Deals and revenue per campaign: first- and last-touch (human opens/clicks up to ``days`` before the deal)."""
    if not workspace.store.scalar("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'deals'"):
        import pandas as pd

        return pd.DataFrame(
            columns=[
                "id",
                "name",
                "first_touch_deals",
                "first_touch_revenue",
                "last_touch_deals",
                "last_touch_revenue",
                "influenced_deals",
                "influenced_pipeline",
            ]
        )
    return _frame(workspace, ATTRIBUTION_SQL, days=int(days))


def forms(workspace: Workspace) -> pd.DataFrame:
    """Per sign-up form: submissions and confirmed (double opt-in) sign-ups."""
    return _frame(workspace, FORMS_SQL)


def daily(workspace: Workspace, since: str = "1970-01-01") -> pd.DataFrame:
    """People's opens, clicks, unsubscribes and sign-ups per day."""
    return _frame(workspace, DAILY_SQL, since=since)


SENDING_SQL = """
SELECT count(*) AS messages,
       coalesce(sum(status = 'queued'), 0) AS backlog,
       coalesce(sum(status = 'sending'), 0) AS sending,
       coalesce(sum(status = 'sent'), 0) AS sent,
       coalesce(sum(status = 'failed'), 0) AS failed,
       coalesce(sum(status = 'unknown'), 0) AS unknown,
       coalesce(sum(status = 'queued' AND last_error IS NOT NULL), 0) AS retrying,
       coalesce(sum(sent_at >= :recent), 0) / 10.0 AS per_minute_last_10_min,
       min(sent_at) AS first_sent, max(attempted_at) AS last_run
FROM mail_outbox WHERE plugin = 'marketing' AND ref_table = 'campaigns' AND ref_id = :campaign
"""

FAILURES_SQL = """
SELECT recipient, status, attempts, last_error AS reason, attempted_at, send_after AS next_try
FROM mail_outbox
WHERE plugin = 'marketing' AND ref_table = 'campaigns' AND ref_id = :campaign
  AND (status IN ('failed', 'unknown') OR (status = 'queued' AND last_error IS NOT NULL))
ORDER BY attempted_at DESC LIMIT :limit
"""


def sending_progress(workspace: Workspace, campaign_id: int) -> pd.DataFrame:
    """One row: the campaign's messages by ledger state, the backlog, the rate of the last 10 minutes, the last run."""
    from datetime import UTC, datetime, timedelta

    recent = (datetime.now(UTC) - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return _frame(workspace, SENDING_SQL, recent=recent, campaign=str(campaign_id))


def failures(workspace: Workspace, campaign_id: int, limit: int = 100) -> pd.DataFrame:
    """The campaign's failed, unknown and retrying messages with the server's reason."""
    return _frame(workspace, FAILURES_SQL, campaign=str(campaign_id), limit=int(limit))
