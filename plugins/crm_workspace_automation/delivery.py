"""The webhook worker: claim due outbox rows, POST them signed, record the outcome, back off.

At least once, never lost: a row is claimed (``sending``, with a lease in
``next_attempt_at``) in its own commit before the request and settled right after it. A
worker killed in between leaves the row ``sending``; once the lease passes any worker
sends it again with the same ``event_id`` (``X-CRM-Delivery``), which receivers use to
deduplicate. Subscriptions are delivered concurrently (a thread each, up to
``MAX_PARALLEL``), one row after another within a subscription; after a failure the rest
of that subscription's rows wait for the next round, so a hanging receiver costs one
timeout per round and never delays another subscription, nor any write (writes only add
rows to the outbox).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from crm_workspace.data.store import utcnow

from . import config, netguard
from .access import system
from .events import fan_out, waiting_events

log = logging.getLogger(__name__)

MAX_PARALLEL = 8
BATCH = 200
USER_AGENT = "crm-workspace-webhooks/1"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=`` + hex HMAC-SHA256 of ``timestamp + "." + body`` under the subscription's secret."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def _at(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class Outcome:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    disabled: list[int] = field(default_factory=list)

    def __str__(self) -> str:
        text = f"{self.delivered} delivered, {self.retrying} to retry, {self.failed} failed"
        return text + (f"; disabled subscriptions {', '.join(map(str, self.disabled))}" if self.disabled else "")


@dataclass(frozen=True)
class Attempt:
    ok: bool
    status: int | None
    error: str | None
    permanent: bool = False  # never worth retrying (the body was erased)


def attempt(ws, row: dict, secret: str, url: str) -> Attempt:
    """One POST of a claimed row; never raises for the receiver's or the network's faults."""
    if not str(row["payload"]).startswith("{"):
        return Attempt(False, None, "not sent: the body was erased by a privacy request", permanent=True)
    body = row["payload"].encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-CRM-Event": row["event"],
        "X-CRM-Delivery": row["event_id"],
        "X-CRM-Timestamp": timestamp,
        "X-CRM-Signature": signature(secret, timestamp, body),
    }
    try:
        target = netguard.resolve(url, allow_private=config.allow_private(ws))
        answer = netguard.post(target, body, headers, timeout=config.timeout(ws))
    except netguard.UnsafeURL as error:
        return Attempt(False, None, str(error))
    except TimeoutError:
        return Attempt(False, None, f"no answer within {config.timeout(ws):g} s")
    except OSError as error:
        return Attempt(False, None, f"{type(error).__name__}: {error}")
    except Exception as error:  # a malformed answer (http.client) is the receiver's fault, not the worker's
        return Attempt(False, None, f"{type(error).__name__}: {error}")
    if 200 <= answer.status < 300:
        return Attempt(True, answer.status, None)
    return Attempt(False, answer.status, f"HTTP {answer.status}: {answer.body[:200]}")


DUE_SQL = """
SELECT d.id, d.event_id, d.subscription_id, d.event, d.payload, d.attempts, d.status
FROM webhook_deliveries d JOIN webhook_subscriptions s ON s.id = d.subscription_id
WHERE d.status IN ('pending', 'sending') AND d.next_attempt_at <= :now AND s.enabled = 1
ORDER BY d.id LIMIT :limit
"""


def claim(ws, now: datetime, limit: int = BATCH) -> list[dict]:
    """Due rows, marked ``sending`` in one commit, each with a lease long enough for its turn."""
    store = ws.store
    lease = config.timeout(ws)
    if not store.query(DUE_SQL, {"now": _at(now), "limit": 1}):
        return []  # nothing due: no write transaction (an empty commit still tells every view to refresh)
    with store.transaction():
        rows = store.query(DUE_SQL, {"now": _at(now), "limit": limit})
        position: dict[int, int] = {}
        updates = []
        for row in rows:
            k = position[row["subscription_id"]] = position.get(row["subscription_id"], 0) + 1
            until = now + timedelta(seconds=lease * k + 2 * lease + 2)
            updates.append((row["id"], {"status": "sending", "next_attempt_at": _at(until)}, None))
        if updates:
            store.update_many("webhook_deliveries", updates)
    return rows


def _targets(ws, ids: set[int]) -> dict[int, tuple[str, str]]:
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    rows = ws.store.query(f"SELECT id, url FROM webhook_subscriptions WHERE id IN ({marks})", list(ids))
    store = ws.store
    return {r["id"]: (r["url"], store.secret("webhook_subscriptions", "secret", r["id"]) or "") for r in rows}


def settle(ws, row: dict, result: Attempt, now: datetime, outcome: Outcome) -> None:
    """Record one attempt: delivered, or back to pending after the backoff, or failed for good."""
    store = ws.store
    attempts = (row.get("attempts") or 0) + 1
    waits = config.backoff(ws)
    with store.transaction():
        sub = store.query(
            "SELECT id, failures, enabled FROM webhook_subscriptions WHERE id = ?", [row["subscription_id"]]
        )
        if result.ok:
            store.update(
                "webhook_deliveries",
                row["id"],
                {
                    "status": "delivered",
                    "attempts": attempts,
                    "last_status_code": result.status,
                    "last_error": None,
                    "delivered_at": utcnow(),
                },
            )
            if sub and sub[0]["failures"]:
                store.update("webhook_subscriptions", row["subscription_id"], {"failures": 0})
            outcome.delivered += 1
            return
        changes: dict[str, Any] = {"attempts": attempts, "last_status_code": result.status, "last_error": result.error}
        if attempts > len(waits) or result.permanent:
            changes["status"] = "failed"
            outcome.failed += 1
        else:
            wait = waits[attempts - 1] * random.uniform(0.8, 1.2)  # jitter: retries of many rows spread out
            changes.update(status="pending", next_attempt_at=_at(now + timedelta(seconds=wait)))
            outcome.retrying += 1
        store.update("webhook_deliveries", row["id"], changes)
        if sub and not result.permanent:
            failures = (sub[0]["failures"] or 0) + 1
            update: dict[str, Any] = {"failures": failures}
            limit = config.max_failures(ws)
            if failures >= limit and sub[0]["enabled"]:
                update.update(
                    enabled=0,
                    disabled_reason=f"disabled at {utcnow()} after {failures} failed deliveries in a row"
                    f" (last: {result.error or result.status})",
                )
                outcome.disabled.append(row["subscription_id"])
            store.update("webhook_subscriptions", row["subscription_id"], update)


def release(ws, rows: list[dict], now: datetime) -> None:
    """Rows a round did not try (their subscription just failed): pending again, no attempt counted."""
    if rows:
        ws.store.update_many(
            "webhook_deliveries", [(r["id"], {"status": "pending", "next_attempt_at": _at(now)}, None) for r in rows]
        )


def _run_subscription(ws, rows: list[dict], target: tuple[str, str] | None, now: datetime, outcome: Outcome) -> None:
    for i, row in enumerate(rows):
        if target is None:
            result = Attempt(False, None, "the subscription was removed")
        else:
            result = attempt(ws, row, target[1], target[0])
        settle(ws, row, result, now, outcome)
        if not result.ok:
            release(ws, rows[i + 1 :], now)
            return


def deliver_due(workspace, *, now: str | None = None, limit: int = BATCH) -> Outcome:
    """One round: every due delivery of every enabled subscription (``now``: a test clock)."""
    ws = system(workspace)
    moment = _parse(now) if now else datetime.now(UTC)
    outcome = Outcome()
    fan_out(ws)
    rows = claim(ws, moment, limit)
    if not rows:
        return outcome
    groups: dict[int, list[dict]] = {}
    for row in rows:
        groups.setdefault(row["subscription_id"], []).append(row)
    targets = _targets(ws, set(groups))
    if len(groups) == 1:
        ((sub_id, group),) = groups.items()
        _run_subscription(ws, group, targets.get(sub_id), moment, outcome)
        return outcome
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(groups)), thread_name_prefix="crm-webhook") as pool:
        futures = [
            pool.submit(_run_subscription, ws, group, targets.get(sub_id), moment, outcome)
            for sub_id, group in groups.items()
        ]
        for future in futures:
            future.result()
    return outcome


def due_count(ws, now: str | None = None) -> int:
    """Events waiting to be fanned out, plus deliveries due (the delivery thread's cheap poll)."""
    if waiting_events(ws.store):
        return 1
    return ws.store.scalar(
        "SELECT count(*) FROM webhook_deliveries d JOIN webhook_subscriptions s ON s.id = d.subscription_id"
        " WHERE d.status IN ('pending', 'sending') AND d.next_attempt_at <= ? AND s.enabled = 1",
        [now or utcnow()],
    )


class DeliveryThread(threading.Thread):
    """Delivers due webhooks every ``interval`` seconds (``crm serve``, ``crm webhooks worker``)."""

    def __init__(self, workspace, interval: float = 1.0):
        super().__init__(name="crm-webhooks", daemon=True)
        self.workspace = workspace
        self.interval = interval
        self.stopped = threading.Event()
        self.errors: list[str] = []

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                if due_count(self.workspace):
                    deliver_due(self.workspace)
            except Exception as error:  # keep delivering: a failure here is logged and kept, not fatal
                log.exception("webhook delivery round failed")
                self.errors.append(f"{type(error).__name__}: {error}")
                del self.errors[:-20]
            self.stopped.wait(self.interval)

    def stop(self) -> None:
        self.stopped.set()


_THREADS: dict[str, DeliveryThread] = {}
_LOCK = threading.Lock()


def start_thread(workspace, interval: float = 1.0) -> DeliveryThread:
    """One delivery thread per database file in this process."""
    with _LOCK:
        key = str(workspace.path)
        thread = _THREADS.get(key)
        if thread is None or not thread.is_alive():
            thread = _THREADS[key] = DeliveryThread(system(workspace), interval)
            thread.start()
        return thread
