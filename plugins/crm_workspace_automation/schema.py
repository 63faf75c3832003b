"""The automation plugin's tables: webhook subscriptions, their outbox, workflow rules and their runs.

- ``webhook_subscriptions``: a URL and the events it wants; ``enabled`` turns to 0 (with
  ``disabled_reason``) after ``webhooks_max_failures`` failed attempts in a row.
  ``secret`` signs its deliveries: a hidden column (NULL to every read but ``store.secret``,
  ``<redacted>`` in the audit trail); only admins write the table.
- ``webhook_events``: the transactional outbox. One row per event a write raised that some
  subscription wants, with the body and the ids of the subscriptions that wanted it
  (``targets``), inserted in the write's transaction: one small insert per event, however many
  subscriptions there are.
- ``webhook_deliveries``: one row per (event, subscription), made from ``webhook_events`` by
  the worker (``webhook_fanout.last_event`` is the last event it expanded); it moves pending → sending → delivered, or back to pending
  with ``next_attempt_at`` later (backoff), or failed when retries run out. ``event_id`` is
  the receiver's deduplication key, the same on every attempt and replay.
- ``workflow_rules``: when (``table_name``, ``trigger``, ``conditions`` JSON) and what
  (``actions`` JSON); ``disabled_reason`` says why a rule was turned off automatically.
- ``rule_runs``: one row per rule run: the record, what each action did or why it failed;
  kept ``rules_retention_days``, and each record's latest run per rule for ever (retention.py).
"""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.db import Database

from crm_workspace.data.schema import admin_table, ensure_table, hide_column

migrations = sqlite_utils.Migrations("crm_workspace.automation")

# subscriptions are an admin's; their signing secret reads as NULL everywhere but store.secret,
# and the audit trail records it as <redacted>
admin_table("webhook_subscriptions")
hide_column("webhook_subscriptions", "secret")

_STAMPS = {"created_at": str, "updated_at": str, "updated_by": str, "version": int}

#: Tables this plugin owns: never a source of webhook events or rule runs (no feedback loops).
OWN_TABLES = frozenset(
    {"webhook_subscriptions", "webhook_events", "webhook_fanout", "webhook_deliveries", "workflow_rules", "rule_runs"}
)


@migrations()
def m001_webhooks(db: Database) -> None:
    ensure_table(
        db,
        "webhook_subscriptions",
        {
            "id": int,
            "url": str,
            "events": str,  # JSON list of patterns: "deals.created", "deal.won", "deals.*", "*"
            "description": str,
            "enabled": int,
            "disabled_reason": str,
            "failures": int,  # failed attempts in a row
            "secret": str,
            "owner": str,
            **_STAMPS,
        },
        pk="id",
        not_null={"url", "events"},
        defaults={"enabled": 1, "failures": 0, "version": 1},
    )
    ensure_table(
        db,
        "webhook_deliveries",
        {
            "id": int,
            "event_id": str,
            "subscription_id": int,
            "event": str,
            "table_name": str,
            "record_id": str,
            "contact_id": int,
            "payload": str,  # the JSON body, exactly as POSTed
            "status": str,  # pending | sending | delivered | failed
            "attempts": int,
            "next_attempt_at": str,
            "last_status_code": int,
            "last_error": str,
            "created_at": str,
            "delivered_at": str,
            "replay_of": int,
        },
        (
            "CREATE INDEX idx_webhook_deliveries_due ON webhook_deliveries(status, next_attempt_at)",
            "CREATE INDEX idx_webhook_deliveries_sub ON webhook_deliveries(subscription_id, id)",
            "CREATE INDEX idx_webhook_deliveries_event ON webhook_deliveries(event_id)",
            "CREATE INDEX idx_webhook_deliveries_contact ON webhook_deliveries(contact_id)",
        ),
        pk="id",
        not_null={"event_id", "subscription_id", "event", "payload", "status"},
        defaults={"status": "pending", "attempts": 0},
    )
    ensure_table(
        db,
        "webhook_events",
        {
            "id": int,
            "event_id": str,
            "event": str,
            "table_name": str,
            "record_id": str,
            "contact_id": int,
            "payload": str,  # compact: the record and the changed fields' old values (events.compact_of)
            "targets": str,  # JSON list of subscription ids that wanted the event when it happened
            "created_at": str,
        },
        pk="id",
        not_null={"event_id", "event", "payload", "targets"},
    )
    # no index on webhook_events: a write appends one row (one page); the worker walks the ids
    # above the watermark it keeps here, in the same transaction as the deliveries it makes
    ensure_table(db, "webhook_fanout", {"id": int, "last_event": int}, pk="id")
    db["webhook_fanout"].insert({"id": 1, "last_event": 0}, replace=True)


@migrations()
def m002_rules(db: Database) -> None:
    ensure_table(
        db,
        "workflow_rules",
        {
            "id": int,
            "name": str,
            "table_name": str,
            "trigger": str,  # create | update | change (create or update) | time
            "conditions": str,  # JSON list of {"field", "op", "value"}
            "actions": str,  # JSON list of {"type", ...}
            "enabled": int,
            "disabled_reason": str,
            "owner": str,
            **_STAMPS,
        },
        pk="id",
        not_null={"name", "table_name", "trigger"},
        defaults={"enabled": 1, "conditions": "[]", "actions": "[]", "version": 1},
    )
    ensure_table(
        db,
        "rule_runs",
        {
            "id": int,
            "rule_id": int,
            "at": str,
            "table_name": str,
            "record_id": str,
            "trigger": str,
            "status": str,  # ok | failed | skipped
            "detail": str,
            "user": str,
        },
        (
            "CREATE INDEX idx_rule_runs_rule ON rule_runs(rule_id, record_id, at)",
            "CREATE INDEX idx_rule_runs_at ON rule_runs(at)",
        ),
        pk="id",
        not_null={"rule_id", "at", "status"},
    )


@migrations()
def m003_retention_indexes(db: Database) -> None:
    """An index for the hourly retention scan of the delivery log (retention.py), by status and
    last moment: a prune with nothing to remove reads no kept delivery. ``rule_runs`` is read
    in time order through ``idx_rule_runs_at`` (m002)."""
    db.execute(
        "CREATE INDEX IF NOT EXISTS idx_webhook_deliveries_finished"
        " ON webhook_deliveries(status, coalesce(delivered_at, created_at))"
    )
