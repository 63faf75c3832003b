"""Delivering the outbox (``crm_workspace.services.outbox.deliver``): the crash-safe send loop.

A row is marked ``sending`` in a commit of its own before its SMTP transaction
starts; the ``sent`` mark (or the failure) is committed together with the claim
of the next row, or alone after the last one: one small commit per message,
and a sender killed at any moment leaves at most one row ``sending``. Its
``claimed_by`` (host:pid) tells a later run that the sender is gone: the row
becomes ``unknown`` and is never resent automatically.

The status flips are single UPDATEs inside the Store's write transaction (its
lock, ``BEGIN IMMEDIATE``), after checking once that the acting user may update
the ledger; they write no audit rows and fire no events: the ledger row itself
records each attempt (``attempts``, ``last_error``, ``attempted_at``,
``sent_at``), two audit rows per message would double the audit log for every
campaign, and the crash guarantee needs those commits small.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from typing import Any

from crm_workspace.data import permissions
from crm_workspace.data.store import utcnow
from crm_workspace.services.mailer import Mailer, MailError

TABLE = "mail_outbox"
#: The first retry waits this long; each further one twice as long, up to ``MAX_BACKOFF_S``.
BACKOFF_S = 60
MAX_BACKOFF_S = 6 * 3600
#: A temporary failure this many times over makes the row ``failed`` (not permanent).
MAX_ATTEMPTS = 8
#: A row ``sending`` for longer than this is ``unknown`` even if its sender's host is another machine.
STALE_SENDING_S = 3600


@dataclass
class Delivery:
    """What one ``deliver`` did: counts, the ids by outcome, and why it stopped early (``error``)."""

    sent: int = 0
    failed: int = 0
    retrying: int = 0
    unknown: int = 0  # rows found abandoned ``sending`` by a dead sender (now ``unknown``)
    error: str = ""
    sent_ids: list[int] = field(default_factory=list)
    failed_ids: list[int] = field(default_factory=list)
    retrying_ids: list[int] = field(default_factory=list)

    def __str__(self) -> str:
        text = f"{self.sent} sent, {self.failed} failed, {self.retrying} to retry"
        if self.unknown:
            text += f", {self.unknown} unknown (left sending by a stopped sender)"
        return text + (f"; stopped: {self.error}" if self.error else "")


# ------------------------------------------------------------------- helpers
def _later(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def backoff(attempts: int) -> int:
    """Seconds to wait before the next try after ``attempts`` temporary failures."""
    return min(BACKOFF_S * 2 ** max(attempts - 1, 0), MAX_BACKOFF_S)


def _me() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(claimed_by: str | None) -> bool | None:
    """Whether the process that claimed a row still runs: True/False on this host, None elsewhere."""
    host, _, pid = (claimed_by or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def abandoned(row: dict[str, Any], now: datetime) -> bool:
    if _alive(row.get("claimed_by")) is False:
        return True
    started = row.get("attempted_at")  # one message never takes this long: its sender is elsewhere, or stuck
    return (
        bool(started)
        and (now - datetime.fromisoformat(started.replace("Z", "+00:00"))).total_seconds() > STALE_SENDING_S
    )


# -------------------------------------------------------------------- deliver
class _Ledger:
    """The status flips of one ``deliver``: each pending outcome is committed with the next claim."""

    def __init__(self, workspace: Any):
        self.store = workspace.store
        self.me = _me()
        self.pending: list[tuple[str, list[Any]]] = []

    def _write(self, extra: tuple[str, list[Any]] | None = None) -> Any:
        result = None
        with self.store.transaction():
            conn = self.store.conn
            for sql, params in self.pending:
                conn.execute(sql, params)
            if extra is not None:
                result = conn.execute(*extra).fetchone()
        self.pending.clear()
        return result

    def flush(self) -> None:
        if self.pending:
            self._write()

    def claim(self, row_id: int) -> tuple[str, str, str] | None:
        """Mark ``row_id`` sending (committing earlier outcomes with it); its envelope and text, or None."""
        sql = (
            f"UPDATE {TABLE} SET status = 'sending', attempted_at = ?, claimed_by = ? "
            "WHERE id = ? AND status = 'queued' RETURNING sender, recipient, message"
        )
        return self._write((sql, [utcnow(), self.me, row_id]))

    def sent(self, row_id: int) -> None:
        self.pending.append(
            (
                f"UPDATE {TABLE} SET status = 'sent', sent_at = ?, attempts = attempts + 1, last_error = NULL "
                "WHERE id = ?",
                [utcnow(), row_id],
            )
        )

    def failed(self, row_id: int, error: str, *, permanent: bool) -> None:
        self.pending.append(
            (
                f"UPDATE {TABLE} SET status = 'failed', attempts = attempts + 1, last_error = ?, permanent = ? "
                "WHERE id = ?",
                [error, int(permanent), row_id],
            )
        )

    def unknown(self, row_id: int, error: str) -> None:
        self.pending.append((f"UPDATE {TABLE} SET status = 'unknown', last_error = ? WHERE id = ?", [error, row_id]))

    def retry(self, row_id: int, error: str, attempts: int) -> None:
        self.pending.append(
            (
                f"UPDATE {TABLE} SET status = 'queued', attempts = ?, last_error = ?, send_after = ? WHERE id = ?",
                [attempts, error, _later(backoff(attempts)), row_id],
            )
        )


def mark_abandoned(workspace: Any) -> int:
    """Turn rows left ``sending`` by a sender that is gone into ``unknown``; how many."""
    store = workspace.store
    rows = store.query(f"SELECT id, claimed_by, attempted_at FROM {TABLE} WHERE status = 'sending'")
    now = datetime.now(UTC)
    gone = [row["id"] for row in rows if abandoned(row, now)]
    if gone:
        with store.transaction():
            for row_id in gone:
                store.conn.execute(
                    f"UPDATE {TABLE} SET status = 'unknown', last_error = ? WHERE id = ? AND status = 'sending'",
                    ["the sender stopped during this message: it may or may not have been sent", row_id],
                )
    return len(gone)


def due(workspace: Any, *, plugin: str | None = None, limit: int | None = None) -> list[int]:
    """The ids of queued rows whose time has come, oldest first."""
    sql = f"SELECT id FROM {TABLE} WHERE status = 'queued' AND (send_after IS NULL OR send_after <= ?)"
    params: list[Any] = [utcnow()]
    if plugin is not None:
        sql += " AND plugin = ?"
        params.append(plugin)
    sql += " ORDER BY id"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(int(limit))
    return [row["id"] for row in workspace.store.query(sql, params)]


def deliver(
    workspace: Any,
    *,
    plugin: str | None = None,
    limit: int | None = None,
    per_minute: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    mailer: Mailer | None = None,
) -> Delivery:
    """Send the queued messages that are due (``plugin``'s only, at most ``limit``) over one connection.

    ``per_minute`` (default: setting ``mail_per_minute``, 0 = no limit) spaces the
    messages out; ``progress(done, total)`` is called after each. ``MailError``
    when the server cannot be reached at all (nothing is touched: the rows stay
    queued); a connection lost mid-batch stops it with ``Delivery.error`` set.
    """
    permissions.permissions(workspace.store).check(TABLE, "update", None, {"status": "sent"})
    result = Delivery(unknown=mark_abandoned(workspace))
    ids = due(workspace, plugin=plugin, limit=limit)
    if not ids:
        return result
    mailer = mailer or Mailer.from_workspace(workspace)
    rate = per_minute if per_minute is not None else int(workspace.setting("mail_per_minute", 0) or 0)
    interval = 60.0 / rate if rate else 0.0
    ledger = _Ledger(workspace)
    attempts = {
        row["id"]: row["attempts"] or 0
        for chunk in _chunks(ids, 500)
        for row in workspace.store.query(
            f"SELECT id, attempts FROM {TABLE} WHERE id IN ({', '.join('?' * len(chunk))})", chunk
        )
    }
    started = time.monotonic()
    with mailer.connection() as conn:
        try:
            for done, row_id in enumerate(ids):
                if interval:
                    wait = started + done * interval - time.monotonic()
                    if wait > 0:
                        ledger.flush()
                        time.sleep(wait)
                claimed = ledger.claim(row_id)
                if claimed is None:
                    continue  # another sender took it, or a person changed it
                sender, recipient, text = claimed
                to = [address.strip() for address in (recipient or "").split(",") if "@" in address]
                if not to or not text:
                    ledger.failed(row_id, "no recipient or message left (erased?)", permanent=True)
                    result.failed += 1
                    result.failed_ids.append(row_id)
                    continue
                try:
                    conn.send_raw(sender or parseaddr(mailer.sender)[1], to, text)
                except BaseException as error:
                    if not isinstance(error, MailError):  # interrupted mid-message: it may have gone out
                        ledger.unknown(row_id, f"interrupted while sending: {type(error).__name__}")
                        raise
                    _settle(ledger, result, row_id, error, attempts.get(row_id, 0) + 1)
                    if error.code is None:  # the connection itself failed: stop here, retry later
                        result.error = str(error)
                        break
                else:
                    ledger.sent(row_id)
                    result.sent += 1
                    result.sent_ids.append(row_id)
                if progress is not None:
                    progress(done + 1, len(ids))
        finally:
            ledger.flush()
    return result


def _settle(ledger: _Ledger, result: Delivery, row_id: int, error: MailError, attempts: int) -> None:
    if error.permanent or attempts >= MAX_ATTEMPTS:
        reason = str(error) if error.permanent else f"gave up after {attempts} attempts: {error}"
        ledger.failed(row_id, reason, permanent=error.permanent)
        result.failed += 1
        result.failed_ids.append(row_id)
    else:
        ledger.retry(row_id, str(error), attempts)
        result.retrying += 1
        result.retrying_ids.append(row_id)


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
