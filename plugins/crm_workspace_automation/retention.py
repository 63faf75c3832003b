"""Retention of the webhook ledgers: ``webhooks_retention_days`` (default 30; 0 keeps everything).

Run by this plugin's tick about once an hour. Removed: deliveries that are finished
(``delivered``, or ``failed`` for good) and older than the period (delivered at, else
created at: a failing delivery's retries take hours, not days), and events the worker has
expanded into deliveries (at or below ``webhook_fanout.last_event``) as old. Pending and
sending deliveries, and events not expanded yet, always stay. Like the delivery logs of
GitHub or Stripe, the log is recent history: a subscription's delivered and failed counts
(``webhooks.subscriptions``) then cover the retention period, and a pruned delivery can no
longer be replayed. The bodies are personal data (the records they announce), one more
reason not to keep them for ever. Rows go without audit rows (crm_workspace/data/retention.py
says why); the deliveries' own writes were never audited row by row either.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crm_workspace.data import retention

DEFAULT_RETENTION_DAYS = 30
#: Seconds of tick time between two prunes of one workspace file (each scans the finished rows).
EVERY_S = 3600
_last: dict[str, datetime] = {}


def retention_days(ws) -> int:
    value = ws.setting("webhooks_retention_days", DEFAULT_RETENTION_DAYS)
    return DEFAULT_RETENTION_DAYS if value is None else int(value)


def prune(ws, *, days: int | None = None, now: str | None = None) -> dict[str, int]:
    """Remove finished deliveries and expanded events older than ``days``: ``{"deliveries": n, "events": m}``."""
    days = retention_days(ws) if days is None else int(days)
    if days <= 0:
        return {"deliveries": 0, "events": 0}
    moment = _moment(now)
    cutoff = (moment - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    store = ws.store
    deliveries = retention.prune(
        store,
        "webhook_deliveries",
        "status IN ('delivered', 'failed') AND coalesce(delivered_at, created_at) < ?",
        [cutoff],
    )
    events = retention.prune(
        store,
        "webhook_events",
        "id <= coalesce((SELECT last_event FROM webhook_fanout WHERE id = 1), 0) AND created_at < ?",
        [cutoff],
    )
    return {"deliveries": deliveries, "events": events}


def prune_due(ws, now: str) -> dict[str, int] | None:
    """``prune`` when this process last did it an hour of tick time ago or more (None: not yet due)."""
    moment = _moment(now)
    last = _last.get(ws.path or "")
    if last is not None and last <= moment and (moment - last).total_seconds() < EVERY_S:
        return None
    _last[ws.path or ""] = moment
    return prune(ws, now=now)


def _moment(now: str | None) -> datetime:
    if not now:
        return datetime.now(UTC)
    moment = datetime.fromisoformat(now.replace("Z", "+00:00"))
    # no zone means UTC, as everywhere in the store (astimezone alone would read it as the host's local time)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
