"""The one durable mail ledger: ``mail_outbox``, filled by ``enqueue``, emptied by ``deliver``.

Every module sends through it (campaigns, sequences, replies, notifications), so
a message is sent once, its fate is on record and a page can count it.

States: ``queued`` → ``sending`` → ``sent``; a 5xx refusal → ``failed``
(``permanent`` 1: a hard bounce); a 4xx answer → ``queued`` again with
``send_after`` pushed back exponentially (``attempts`` counted; ``failed`` after
``MAX_ATTEMPTS``). A row is marked ``sending`` in a commit of its own before its
SMTP transaction starts and ``sent`` right after the server accepted it (in the
commit that claims the next row): a sender killed mid-batch leaves at most one
row ``sending``, never an unsent row marked sent nor a sent row queued. Such a
row becomes ``unknown`` (its sender, named in ``claimed_by``, is gone): it is
never resent automatically; a person decides (``requeue``).

Writes and the audit trail: ``enqueue`` inserts through the Store (validated,
audited, ``crm_record_changed`` fires: who queued what is on record).
``deliver``'s status flips are written inside the Store's write transaction
(its lock and ``BEGIN IMMEDIATE``) as single UPDATEs, after checking once that
the acting user may update the ledger, but without audit rows or events: the
ledger row itself records each attempt (``attempts``, ``last_error``,
``attempted_at``, ``sent_at``), two audit rows per message would double the
audit log for every campaign, and the crash guarantee needs those commits small
(issue 19: 10,000 messages within 2x of a bare SMTP loop). ``requeue`` is a
person's decision and goes through ``store.update_many`` (audited).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any

from crm_workspace.data import permissions
from crm_workspace.data.schema import OUTBOX_STATUSES
from crm_workspace.data.store import utcnow
from crm_workspace.errors import CrmError
from crm_workspace.services.mailer import Mailer, MailError, as_text, mail_from, recipients

TABLE = "mail_outbox"
#: The first retry waits this long; each further one twice as long, up to ``MAX_BACKOFF_S``.
BACKOFF_S = 60
MAX_BACKOFF_S = 6 * 3600
#: A temporary failure this many times over makes the row ``failed`` (not permanent).
MAX_ATTEMPTS = 8
#: A row ``sending`` for longer than this is ``unknown`` even if its sender's host is another machine.
STALE_SENDING_S = 3600
#: The columns listings show (all but the message text).
COLUMNS = (
    "id",
    "key",
    "plugin",
    "ref_table",
    "ref_id",
    "contact_id",
    "recipient",
    "subject",
    "message_id",
    "status",
    "attempts",
    "last_error",
    "permanent",
    "queued_at",
    "send_after",
    "attempted_at",
    "sent_at",
)


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
def _iso(value: str | datetime | None) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        return _iso(datetime.fromisoformat(str(value).strip().replace("Z", "+00:00")))
    except ValueError:
        raise CrmError(f"send_after must be an ISO date-time, not {value!r}") from None


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


def _abandoned(row: dict[str, Any], now: datetime) -> bool:
    alive = _alive(row.get("claimed_by"))
    if alive is False:
        return True
    started = row.get("attempted_at")
    if alive is None and started:
        then = datetime.fromisoformat(started.replace("Z", "+00:00"))
        return (now - then).total_seconds() > STALE_SENDING_S
    return False


# -------------------------------------------------------------------- enqueue
def enqueue(
    workspace: Any,
    message: EmailMessage,
    *,
    key: str,
    plugin: str,
    ref_table: str | None = None,
    ref_id: Any = None,
    contact_id: int | None = None,
    send_after: str | datetime | None = None,
) -> int:
    """Queue ``message`` once per ``key``; returns the row's id (the existing one for a known key).

    ``From`` defaults to the workspace's ``mail_from``. Wrap many calls in
    ``workspace.store.transaction()`` to queue a campaign in one commit.
    """
    if not str(key or "").strip():
        raise CrmError("a queued message needs a key (the same key twice is one message)")
    if "From" not in message:
        message["From"] = mail_from(workspace)
    to = recipients(message)
    if not to:
        raise MailError("the message has no recipient (To, Cc or Bcc)", permanent=True)
    store = workspace.store
    with store.transaction():
        existing = store.scalar(f"SELECT id FROM {TABLE} WHERE key = ?", [key])
        if existing is not None:
            return int(existing)
        (row_id,) = store.insert_many(
            TABLE,
            [
                {
                    "key": key,
                    "plugin": plugin,
                    "ref_table": ref_table,
                    "ref_id": None if ref_id is None else str(ref_id),
                    "contact_id": contact_id,
                    "sender": parseaddr(str(message["From"]))[1],
                    "recipient": ", ".join(to),
                    "subject": str(message.get("Subject", "")),
                    "message_id": str(message.get("Message-ID", "")) or None,
                    "message": as_text(message),
                    "status": "queued",
                    "attempts": 0,
                    "permanent": 0,
                    "queued_at": utcnow(),
                    "send_after": _iso(send_after),
                }
            ],
        )
    return int(row_id)


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
    gone = [row["id"] for row in rows if _abandoned(row, now)]
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
                except MailError as error:
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


# -------------------------------------------------------------------- reading
def outbox_rows(
    workspace: Any,
    *,
    status: str | None = None,
    plugin: str | None = None,
    contact_id: int | None = None,
    limit: int | None = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Ledger rows, newest first, without the message text; ``sending`` rows of a dead sender read ``unknown``."""
    where, params = _filters(status=status, plugin=plugin, contact_id=contact_id)
    sql = f"SELECT {', '.join(COLUMNS)}, claimed_by FROM {TABLE}{where} ORDER BY id DESC"
    if limit is not None:
        sql += " LIMIT ? OFFSET ?"
        params += [int(limit), int(offset)]
    now = datetime.now(UTC)
    rows = workspace.store.query(sql, params)
    for row in rows:
        if row["status"] == "sending" and _abandoned(row, now):
            row["status"] = "unknown"
        del row["claimed_by"]
    return rows


def counts(workspace: Any, *, plugin: str | None = None) -> dict[str, int]:
    """How many rows are in each state (every state listed, abandoned ``sending`` rows as ``unknown``)."""
    where, params = _filters(plugin=plugin)
    found = dict.fromkeys(OUTBOX_STATUSES, 0)
    for row in workspace.store.query(f"SELECT status, count(*) AS n FROM {TABLE}{where} GROUP BY status", params):
        found[row["status"]] = row["n"]
    if found["sending"]:
        now = datetime.now(UTC)
        sending = workspace.store.query(
            f"SELECT claimed_by, attempted_at FROM {TABLE}{where}{' AND' if where else ' WHERE'} status = 'sending'",
            params,
        )
        gone = sum(_abandoned(row, now) for row in sending)
        found["sending"] -= gone
        found["unknown"] += gone
    return found


def _filters(**given: Any) -> tuple[str, list[Any]]:
    clauses = [f"{name} = ?" for name, value in given.items() if value is not None]
    params = [value for value in given.values() if value is not None]
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def requeue(workspace: Any, ids: Iterable[int]) -> int:
    """Queue ``unknown`` or ``failed`` rows again, now (a person's decision: audited); how many."""
    store = workspace.store
    with store.transaction():
        rows = [store.get(TABLE, int(row_id)) for row_id in ids]
        wrong = [f"#{row['id']} is {row['status']}" for row in rows if row["status"] not in ("unknown", "failed")]
        if wrong:
            raise CrmError(f"only unknown or failed mail can be queued again ({', '.join(wrong)})")
        store.update_many(
            TABLE,
            [
                (row["id"], {"status": "queued", "send_after": None, "permanent": 0, "last_error": None}, None)
                for row in rows
            ],
        )
    return len(rows)
