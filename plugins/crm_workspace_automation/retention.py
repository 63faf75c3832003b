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

The rule runs (``rules_retention_days``, default 90; 0 keeps everything), in the same hourly
step: runs older than the period go, except the latest run of each rule on each record
(``prune_runs``). A time rule asks "has this rule run on this record since it went quiet?"
(rules.quiet_records): only the latest run answers that, so keeping it means retention never
makes a rule run twice on a record, whatever its trigger now or later. The runs of a deleted
rule go all at once when old. The rules page's run and failure counts then cover the period
(and each record's latest run); a record's timeline keeps its "Rule run:" notes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crm_workspace.data import retention

DEFAULT_RETENTION_DAYS = 30
DEFAULT_RUNS_RETENTION_DAYS = 90
#: Seconds of tick time between two prunes of one workspace file (each scans the finished rows).
EVERY_S = 3600
_last: dict[str, datetime] = {}

#: Finished deliveries older than ``?``: read through the index of schema.py's m003 (its expression).
DELIVERIES_DONE = "status IN ('delivered', 'failed') AND coalesce(delivered_at, created_at) < ?"
#: Runs older than ``?`` that are not the latest of their rule on their record, or whose rule is gone.
RUNS_DONE = """at < ? AND (
    EXISTS (SELECT 1 FROM rule_runs later WHERE later.rule_id = rule_runs.rule_id
            AND later.record_id = rule_runs.record_id AND (later.at, later.id) > (rule_runs.at, rule_runs.id))
    OR NOT EXISTS (SELECT 1 FROM workflow_rules w WHERE w.id = rule_runs.rule_id))"""


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
        store, "webhook_deliveries", DELIVERIES_DONE, [cutoff], index="idx_webhook_deliveries_finished"
    )
    events = retention.prune(
        store,
        "webhook_events",
        "id <= coalesce((SELECT last_event FROM webhook_fanout WHERE id = 1), 0) AND created_at < ?",
        [cutoff],
    )
    return {"deliveries": deliveries, "events": events}


def runs_retention_days(ws) -> int:
    value = ws.setting("rules_retention_days", DEFAULT_RUNS_RETENTION_DAYS)
    return DEFAULT_RUNS_RETENTION_DAYS if value is None else int(value)


def prune_runs(ws, *, days: int | None = None, now: str | None = None) -> int:
    """Remove rule runs older than ``days`` but each rule's latest on each record (module doc); how many."""
    days = runs_retention_days(ws) if days is None else int(days)
    if days <= 0:
        return 0
    cutoff = (_moment(now) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    # in time order through idx_rule_runs_at, each chunk after the last: the latest runs kept are read once
    return retention.prune(ws.store, "rule_runs", RUNS_DONE, [cutoff], index="idx_rule_runs_at", walk="at")


def prune_due(ws, now: str) -> dict[str, int] | None:
    """``prune`` and ``prune_runs`` when this process last did them an hour of tick time ago or more
    (None: not yet due)."""
    moment = _moment(now)
    last = _last.get(ws.path or "")
    if last is not None and last <= moment and (moment - last).total_seconds() < EVERY_S:
        return None
    _last[ws.path or ""] = moment
    return {**prune(ws, now=now), "rule_runs": prune_runs(ws, now=now)}


def _moment(now: str | None) -> datetime:
    if not now:
        return datetime.now(UTC)
    moment = datetime.fromisoformat(now.replace("Z", "+00:00"))
    # no zone means UTC, as everywhere in the store (astimezone alone would read it as the host's local time)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
