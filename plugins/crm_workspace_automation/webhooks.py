"""Webhook subscriptions and the delivery log: subscribe, list, remove, test, replay.

Subscribing is an admin's act: the URL is checked (``netguard``), the events must be
known names or patterns, and a signing secret is made (or taken) and returned once.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from crm_workspace.data.store import utcnow
from crm_workspace.errors import NotFound, ValidationError

from . import config, netguard
from .access import require_admin
from .events import DOMAIN_EVENTS, body_of, new_id
from .schema import OWN_TABLES

PING = "ping"


def known_events(ws) -> list[str]:
    """Every event name a subscription may ask for (table events of the workspace's tables, domain events)."""
    from .events import PRIVATE_TABLES, table_events

    tables = [
        r["name"]
        for r in ws.store.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        if r["name"] not in OWN_TABLES
        and r["name"] not in PRIVATE_TABLES
        and not r["name"].startswith("_")
        and "_fts" not in r["name"]
    ]
    return [*DOMAIN_EVENTS, *table_events(tables)]


def parse_events(ws, events: Any) -> list[str]:
    """Event patterns from text (``deal.won,contacts.created``) or a list; unknown names refused."""
    if isinstance(events, str):
        events = [e.strip() for e in events.replace(";", ",").split(",")]
    names = [str(e).strip() for e in (events or []) if str(e).strip()]
    if not names:
        raise ValidationError("webhook_subscriptions", {"events": "name at least one event (or * for all)"})
    known = set(known_events(ws)) | {"*", PING}
    tables = {n.split(".")[0] for n in known if "." in n}
    bad = []
    for name in names:
        if name in known or (name.endswith(".*") and name[:-2] in tables):
            continue
        if name.split(".")[0] == "tickets" and name.split(".")[-1] in ("created", "updated", "deleted", "*"):
            continue  # the service module may not be installed yet
        bad.append(name)
    if bad:
        raise ValidationError(
            "webhook_subscriptions",
            {"events": f"unknown events: {', '.join(bad)} (e.g. deal.won, contacts.created, deals.*, *)"},
        )
    return list(dict.fromkeys(names))


def subscribe(ws, url: str, events: Any, *, secret: str | None = None, description: str = "") -> dict:
    """Add a subscription; returns it with ``secret`` (shown to the admin this once)."""
    require_admin(ws, "subscribe webhooks")
    url = str(url or "").strip()
    patterns = parse_events(ws, events)
    netguard.resolve(url, allow_private=config.allow_private(ws))
    if secret in (None, "", "auto"):
        secret = secrets.token_urlsafe(32)
    elif len(secret) < 16:
        raise ValidationError("webhook_subscriptions", {"secret": "use at least 16 characters (or 'auto')"})
    store = ws.store
    with store.transaction():
        row = store.insert(
            "webhook_subscriptions",
            {
                "url": url,
                "events": json.dumps(patterns),
                "description": description or None,
                "owner": ws.user,
                "secret": secret,
            },
        )
    return {**row, "secret": secret}  # the stored row reads it as NULL (a hidden column)


def get(ws, sub_id: int) -> dict:
    rows = ws.store.query(
        "SELECT id, url, events, description, enabled, disabled_reason, failures, owner, created_at, version"
        " FROM webhook_subscriptions WHERE id = ?",
        [int(sub_id)],
    )
    if not rows:
        raise NotFound(f"no webhook subscription #{sub_id}")
    return rows[0]


def subscriptions(ws) -> list[dict]:
    """Every subscription with its delivery counts; ``notice`` says why a disabled one stopped."""
    rows = ws.store.query(
        """
        SELECT s.id, s.url, s.events, s.enabled, s.failures, s.disabled_reason, s.description, s.created_at,
               (SELECT count(*) FROM webhook_deliveries d WHERE d.subscription_id = s.id AND d.status = 'delivered')
                   AS delivered,
               (SELECT count(*) FROM webhook_deliveries d WHERE d.subscription_id = s.id
                   AND d.status IN ('pending', 'sending')) AS waiting,
               (SELECT count(*) FROM webhook_deliveries d WHERE d.subscription_id = s.id AND d.status = 'failed')
                   AS failed
        FROM webhook_subscriptions s ORDER BY s.id
        """
    )
    for row in rows:
        row["events"] = ", ".join(json.loads(row["events"] or "[]"))
        row["state"] = "enabled" if row["enabled"] else "DISABLED"
        row["notice"] = row.pop("disabled_reason") or ("" if row["enabled"] else "disabled by an admin")
    return rows


def set_enabled(ws, sub_id: int, enabled: bool) -> dict:
    require_admin(ws, "change webhook subscriptions")
    sub = get(ws, sub_id)
    changes: dict[str, Any] = {"enabled": int(enabled)}
    if enabled:
        changes.update(failures=0, disabled_reason=None)
    else:
        changes["disabled_reason"] = f"disabled by {ws.user} at {utcnow()}"
    return ws.store.update("webhook_subscriptions", sub["id"], changes)


def remove(ws, sub_id: int) -> dict:
    """Delete a subscription, its secret and its undelivered rows (the delivered ones stay in the log)."""
    require_admin(ws, "remove webhook subscriptions")
    sub = get(ws, sub_id)
    store = ws.store
    with store.transaction():
        waiting = store.query(
            "SELECT id FROM webhook_deliveries WHERE subscription_id = ? AND status IN ('pending', 'sending')",
            [sub["id"]],
        )
        store.update_many(
            "webhook_deliveries",
            [(r["id"], {"status": "failed", "last_error": "subscription removed"}, None) for r in waiting],
        )
        store.delete("webhook_subscriptions", sub["id"])
    return sub


def enqueue_event(ws, sub_id: int, event: str, data: dict, *, table: str | None = None, record_id=None) -> dict:
    """One delivery row for one subscription (a ping, a rule's webhook action); returns it."""
    event_id = new_id()
    now = utcnow()
    row = {
        "event_id": event_id,
        "subscription_id": int(sub_id),
        "event": event,
        "table_name": table,
        "record_id": None if record_id is None else str(record_id),
        "payload": body_of(event_id, event, now, data),
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }
    ws.store.insert_many("webhook_deliveries", [row], audit=False, events=False, validate=False)
    return ws.store.query("SELECT * FROM webhook_deliveries WHERE event_id = ? ORDER BY id DESC LIMIT 1", [event_id])[0]


def send_now(ws, row: dict) -> dict:
    """Deliver one row at once, whatever its subscription's state, and return it as settled."""
    from datetime import UTC, datetime

    from .delivery import Outcome, _targets, attempt, settle

    target = _targets(ws, {row["subscription_id"]}).get(row["subscription_id"])
    if target is None:
        raise NotFound(f"no webhook subscription #{row['subscription_id']}")
    result = attempt(ws, row, target[1], target[0])
    settle(ws, row, result, datetime.now(UTC), Outcome())
    return ws.store.query("SELECT * FROM webhook_deliveries WHERE id = ?", [row["id"]])[0]


def ping(ws, sub_id: int) -> dict:
    """``crm webhooks test ID``: send a ``ping`` event now; returns the settled delivery."""
    require_admin(ws, "test webhooks")
    sub = get(ws, sub_id)
    row = enqueue_event(
        ws, sub["id"], PING, {"subscription": sub["id"], "message": "a test delivery from crm-workspace"}
    )
    return send_now(ws, row)


def replay(ws, delivery_id: int, *, now: bool = True) -> dict:
    """Send a logged delivery again: a new log row with the same event id and body."""
    require_admin(ws, "replay webhooks")
    rows = ws.store.query("SELECT * FROM webhook_deliveries WHERE id = ?", [int(delivery_id)])
    if not rows:
        raise NotFound(f"no webhook delivery #{delivery_id}")
    old = rows[0]
    get(ws, old["subscription_id"])
    stamp = utcnow()
    copy = {
        k: old[k] for k in ("event_id", "subscription_id", "event", "table_name", "record_id", "contact_id", "payload")
    }
    copy.update(status="pending", attempts=0, next_attempt_at=stamp, created_at=stamp, replay_of=old["id"])
    (new_id,) = ws.store.insert_many("webhook_deliveries", [copy], audit=False, events=False, validate=False)
    row = ws.store.query("SELECT * FROM webhook_deliveries WHERE id = ?", [new_id])[0]
    return send_now(ws, row) if now else row


DELIVERY_COLUMNS = (
    "id",
    "event_id",
    "subscription_id",
    "event",
    "status",
    "attempts",
    "last_status_code",
    "last_error",
    "next_attempt_at",
    "created_at",
    "delivered_at",
    "replay_of",
)


def deliveries(ws, *, subscription: int | None = None, status: str | None = None, limit: int = 50) -> list[dict]:
    """The delivery log, newest first (a read: events the worker has not expanded yet are not in it)."""
    where, params = ["1"], []
    if subscription is not None:
        where.append("subscription_id = ?")
        params.append(int(subscription))
    if status:
        where.append("status = ?")
        params.append(status)
    params.append(int(limit))
    return ws.store.query(
        f"SELECT {', '.join(DELIVERY_COLUMNS)} FROM webhook_deliveries WHERE {' AND '.join(where)}"
        " ORDER BY id DESC LIMIT ?",
        params,
    )
