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
audited, ``crm_record_changed`` fires: who queued what is on record); the
message text itself is written beside that insert, in the same transaction,
so the audit log does not hold a copy of every message sent.
``deliver``'s status flips are written inside the Store's write transaction
(its lock and ``BEGIN IMMEDIATE``) as single UPDATEs, after checking once that
the acting user may update the ledger, but without audit rows or events: the
ledger row itself records each attempt (``attempts``, ``last_error``,
``attempted_at``, ``sent_at``), two audit rows per message would double the
audit log for every campaign, and the crash guarantee needs those commits small
(issue 19: 10,000 messages within 2x of a bare SMTP loop). ``requeue`` is a
person's decision and goes through ``store.update_many`` (audited). The send
loop lives in crm_workspace/services/delivery.py.

Retention (``prune``, run by the scheduler's core step about once an hour and by ``crm
mail prune``): sent and failed rows whose last moment is older than
``mail_retention_days`` (default 90; 0 keeps everything). A row that belongs to no record
(``ref_table`` empty: a test mail, a notification) is deleted. A row that names a record
is that record's delivery ledger: pages count from it (a campaign's sent and failed
figures, its opens joined to their message, a sequence step's state, a ticket reply's
delivery) and its ``key`` keeps a once-only mail from going twice (a CSAT survey per
ticket, an NPS survey per period), so it stays, but loses ``message``, its text: the bulk
of the table (the whole RFC 5322 message; the row without it is some 300 bytes). Neither
writes audit rows (crm_workspace/data/retention.py says why).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any

from crm_workspace.data import retention
from crm_workspace.data.mail_settings import DEFAULT_MAIL_RETENTION_DAYS
from crm_workspace.data.schema import OUTBOX_STATUSES
from crm_workspace.data.store import utcnow
from crm_workspace.errors import CrmError
from crm_workspace.services.delivery import (  # noqa: F401 - deliver and its results are this module's API
    BACKOFF_S,
    MAX_ATTEMPTS,
    MAX_BACKOFF_S,
    TABLE,
    Delivery,
    abandoned,
    backoff,
    deliver,
    due,
    mark_abandoned,
)
from crm_workspace.services.mailer import MailError, as_text, mail_from, recipients

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


# -------------------------------------------------------------------- enqueue
def _row(workspace: Any, message: EmailMessage, *, key: str, plugin: str, sender: str, **refs: Any) -> dict[str, Any]:
    if not str(key or "").strip():
        raise CrmError("a queued message needs a key (the same key twice is one message)")
    if not isinstance(message, EmailMessage):  # Prepared (services/compose.py): store the text it was built as
        message = message.with_sender(sender)
        to, text = message.recipients, message.text
    else:
        if "From" not in message:
            message["From"] = sender
        to, text = recipients(message), None
    if not to:
        raise MailError(f"the message {key!r} has no recipient (To, Cc or Bcc)", permanent=True)
    ref_id = refs.get("ref_id")
    return {
        "key": str(key),
        "plugin": plugin,
        "ref_table": refs.get("ref_table"),
        "ref_id": None if ref_id is None else str(ref_id),
        "contact_id": refs.get("contact_id"),
        "sender": message.sender if not isinstance(message, EmailMessage) else parseaddr(str(message["From"]))[1],
        "recipient": ", ".join(to),
        "subject": str(message.get("Subject", "")),
        "message_id": str(message.get("Message-ID", "")) or None,
        "message": text if text is not None else as_text(message),
        "status": "queued",
        "attempts": 0,
        "permanent": 0,
        "queued_at": utcnow(),
        "send_after": _iso(refs.get("send_after")),
    }


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

    ``From`` defaults to the workspace's ``mail_from``. For a campaign use
    ``enqueue_many`` (one commit, one audit batch).
    """
    entry = {"ref_table": ref_table, "ref_id": ref_id, "contact_id": contact_id, "send_after": send_after}
    return enqueue_many(workspace, [{"message": message, "key": key, "plugin": plugin, **entry}])[0]


def enqueue_many(workspace: Any, entries: Iterable[Mapping[str, Any]]) -> list[int]:
    """Queue many messages in one transaction; each entry holds ``enqueue``'s arguments by name.

    Returns the row ids in order; a key already queued (or given twice) keeps its one row.
    """
    store = workspace.store
    sender = mail_from(workspace)
    ids: list[int | None] = []
    rows: dict[str, dict[str, Any]] = {}
    with store.transaction():
        entries = list(entries)
        keys = [str(entry.get("key") or "") for entry in entries]
        known = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            for found in store.query(
                f"SELECT key, id FROM {TABLE} WHERE key IN ({', '.join('?' * len(chunk))})", chunk
            ):
                known[found["key"]] = found["id"]
        for entry, key in zip(entries, keys, strict=True):
            if key in known or key in rows:
                ids.append(known.get(key))
                continue
            refs = {name: entry.get(name) for name in ("ref_table", "ref_id", "contact_id", "send_after")}
            rows[key] = _row(workspace, entry["message"], key=key, plugin=entry["plugin"], sender=sender, **refs)
            ids.append(None)
        texts = [row.pop("message") for row in rows.values()]
        new = dict(zip(rows, store.insert_many(TABLE, rows.values()), strict=True)) if rows else {}
        # the text beside the audited insert, not in it: the audit log would hold a copy of every message
        store.conn.executemany(f"UPDATE {TABLE} SET message = ? WHERE id = ?", zip(texts, new.values(), strict=True))
    return [
        int(row_id if row_id is not None else new.get(key, known.get(key)))
        for row_id, key in zip(ids, keys, strict=True)
    ]


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
    """Ledger rows, newest first, without the message text; ``sending`` rows of a dead sender read ``unknown``.

    ``status="unknown"`` finds those too; ``status="sending"`` leaves them out.
    """
    where, params = _filters(plugin=plugin, contact_id=contact_id)
    if status is not None:
        if status not in OUTBOX_STATUSES:
            raise CrmError(f"no mail status {status!r} (one of {', '.join(OUTBOX_STATUSES)})")
        wanted = ("sending", "unknown") if status in ("sending", "unknown") else (status,)
        where += f"{' AND' if where else ' WHERE'} status IN ({', '.join('?' * len(wanted))})"
        params += list(wanted)
    sql = f"SELECT {', '.join(COLUMNS)}, claimed_by FROM {TABLE}{where} ORDER BY id DESC"
    if limit is not None:
        sql += " LIMIT ? OFFSET ?"
        params += [int(limit), int(offset)]
    now = datetime.now(UTC)
    rows = workspace.store.query(sql, params)
    for row in rows:
        if row["status"] == "sending" and abandoned(row, now):
            row["status"] = "unknown"
        del row["claimed_by"]
    return [row for row in rows if status is None or row["status"] == status]


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
        gone = sum(abandoned(row, now) for row in sending)
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


# ------------------------------------------------------------------ retention
#: A finished row whose last moment (sent, else last attempt, else queued) is before ``?``.
FINISHED = "status IN ('sent', 'failed') AND coalesce(sent_at, attempted_at, queued_at) < ?"
#: The rows retention removes (no record) and the rows whose text it drops (a record's); each
#: is read through the partial index of the core's m005 that holds exactly its candidates.
REMOVED = f"{FINISHED} AND coalesce(ref_table, '') = ''"
EMPTIED = f"{FINISHED} AND coalesce(ref_table, '') != ''"


def retention_days(workspace: Any) -> int:
    """The ``mail_retention_days`` setting (its default when unset or unreadable)."""
    try:
        return int(workspace.setting("mail_retention_days", DEFAULT_MAIL_RETENTION_DAYS))
    except (TypeError, ValueError, CrmError):
        return DEFAULT_MAIL_RETENTION_DAYS


def prune(workspace: Any, *, days: int | None = None, now: str | None = None) -> dict[str, int]:
    """Retention of the ledger (see the module doc): ``{"removed": rows deleted, "emptied": texts dropped}``.

    ``days`` defaults to the ``mail_retention_days`` setting (0: keep everything); ``now``
    (ISO time) to the clock.
    """
    days = retention_days(workspace) if days is None else int(days)
    if days < 0:
        raise CrmError(f"days must be 0 or more, not {days}")
    if days == 0:
        return {"removed": 0, "emptied": 0}
    moment = datetime.fromisoformat(_iso(now or utcnow()).replace("Z", "+00:00"))
    cutoff = (moment - timedelta(days=days)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    store = workspace.store
    removed = retention.prune(store, TABLE, REMOVED, [cutoff], index="idx_mail_outbox_removable")
    emptied = retention.blank(store, TABLE, ["message"], EMPTIED, [cutoff], index="idx_mail_outbox_emptiable")
    return {"removed": removed, "emptied": emptied}
