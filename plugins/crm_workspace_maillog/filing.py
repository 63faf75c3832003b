"""Filing the logging mailbox's messages as email activities on the contacts they name.

``log_mailbox`` reads the unread messages of the mailbox in the ``maillog_mailbox``
setting and files each in its own transaction, then marks it done (never before it is
stored: a crash reads it again, and the Message-ID makes the second filing a no-op).
A message that cannot be filed is recorded as ``failed`` with the reason and marked
done, so it never blocks the rest; a database that is locked or broken stops the run
with nothing marked.

Who is named: the logged message's From, To and Cc (for a forward, the original's, and
the forwarder). Team users' addresses (``users.email``), the logging address itself
(``maillog_address``) and the workspace's sender (``mail_from``) are not contacts.
Contacts are matched by e-mail without regard to case, and through addresses a person
attached to a contact on the review list; addresses someone chose to ignore are
skipped; every other address waits in ``maillog_review``, never created silently.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import TYPE_CHECKING

from crm_workspace.errors import DatabaseLocked, PermissionDenied
from crm_workspace.services.mailbox import is_auto_or_bulk, open_mailbox

from .parse import Logged, message_id_of, now_text, read_message

if TYPE_CHECKING:
    from crm_workspace import Workspace

MAX_BODY = 10_000
#: Messages read by one run (a tick); the rest wait for the next.
RUN_LIMIT = 200


@dataclass
class RunResult:
    logged: int = 0
    activities: int = 0
    duplicates: int = 0
    skipped: int = 0
    failed: int = 0
    unknown: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"{self.logged} messages logged ({self.activities} activities), {self.duplicates} already logged, "
            f"{self.skipped} auto/bulk skipped, {self.failed} failed, {len(self.unknown)} new addresses to review"
        )


def team_emails(workspace: Workspace) -> dict[str, str]:
    rows = workspace.store.query(
        "SELECT username, lower(trim(email)) AS email FROM users WHERE coalesce(email, '') != ''"
    )
    return {row["email"]: row["username"] for row in rows}


def own_addresses(workspace: Workspace) -> set[str]:
    found = set()
    for key in ("maillog_address", "mail_from"):
        value = str(workspace.setting(key, "") or "").strip().lower()
        if "@" in value:
            found.add(value.split("<")[-1].strip(">").strip())
    return found


def log_mailbox(workspace: Workspace, *, spec: str | None = None, limit: int | None = RUN_LIMIT) -> RunResult:
    """File the mailbox's unread messages (at most ``limit``); what happened."""
    from crm_workspace.errors import CrmError

    spec = spec or str(workspace.setting("maillog_mailbox", "") or "")
    if not spec:
        raise CrmError("no logging mailbox: an admin sets maillog_mailbox (a Maildir path or imap://user@host/folder)")
    if workspace.read_only:
        raise PermissionDenied(f"{workspace.user} may not file mail (read-only)")
    result = RunResult()
    with open_mailbox(spec) as box:
        for item in box.unread(limit=limit):
            try:
                file_message(workspace, item.message, key=item.key, too_big=item.too_big, result=result)
            except (sqlite3.Error, DatabaseLocked, PermissionDenied):
                raise  # the database or the acting user, not the message: stop with this message unmarked
            except Exception as error:
                _record_failure(workspace, item.message, item.key, error, result)
            box.mark_done(item.key)
    return result


def _record_failure(workspace: Workspace, message: EmailMessage, key: str, error: Exception, result: RunResult) -> None:
    reason = f"{type(error).__name__}: {error}"[:500]
    try:
        message_id = message_id_of(message, key)
    except Exception:
        message_id = f"<maillog-key-{key}@broken>"
    result.failed += 1
    result.errors.append(f"{key}: {reason}")
    with workspace.store.transaction():
        if workspace.store.scalar("SELECT 1 FROM maillog_messages WHERE message_id = ?", [message_id]):
            return
        workspace.store.insert(
            "maillog_messages",
            {
                "message_id": message_id,
                "mailbox_key": key,
                "status": "failed",
                "error": reason,
                "logged_at": now_text(),
            },
        )


def file_message(
    workspace: Workspace,
    message: EmailMessage,
    *,
    key: str = "",
    too_big: bool = False,
    result: RunResult | None = None,
) -> str:
    """File one message; its status (``logged``, ``pending``, ``duplicate``, ``skipped``)."""
    result = result if result is not None else RunResult()
    store = workspace.store
    logged = read_message(message, too_big=too_big)
    if store.scalar("SELECT 1 FROM maillog_messages WHERE message_id = ?", [logged.message_id]):
        result.duplicates += 1
        return "duplicate"
    if is_auto_or_bulk(message):
        result.skipped += 1
        with store.transaction():
            store.insert("maillog_messages", _message_row(logged, key, "skipped", None, "", 0))
        return "skipped"
    team = team_emails(workspace)
    own = own_addresses(workspace)
    people = list(logged.people)
    if logged.forwarded_by and logged.forwarded_by not in {a for _, a in people}:
        people.append(("", logged.forwarded_by))
    if not people:
        raise ValueError("the message names nobody (no From, To or Cc)")
    sender = logged.sender[1]
    owner = team.get(sender) or team.get(logged.forwarded_by) or next((team[a] for _, a in people if a in team), None)
    if owner is None and team:
        # mail between strangers sent straight to the logging address: nobody on the team wrote,
        # forwarded or received it, so it is no one's correspondence to log (anyone who learns the
        # address could otherwise write activities on any contact and flood the review list)
        result.skipped += 1
        with store.transaction():
            store.insert("maillog_messages", _message_row(logged, key, "skipped", None, "", 0))
        return "skipped"
    outsiders = [(name, address) for name, address in people if address not in team and address not in own]
    contacts, ignored = _match(workspace, [a for _, a in outsiders])
    unknown = [(n, a) for n, a in outsiders if a not in contacts and a not in ignored]
    direction = "out" if sender in team else "in"
    status = "pending" if unknown else "logged"
    with store.transaction():
        store.insert(
            "maillog_messages", _message_row(logged, key, status, owner, direction, len(set(contacts.values())))
        )
        made = log_on(
            workspace, logged.message_id, sorted(set(contacts.values())), activity_record(logged, direction, owner)
        )
        now = now_text()
        for name, address in unknown:
            _add_review(workspace, address, name, logged.message_id, now)
    if status == "logged":
        forget_text(workspace, [logged.message_id])
    result.logged += 1
    result.activities += made
    result.unknown += [a for _, a in unknown if a not in result.unknown]
    return status


def _message_row(logged: Logged, key: str, status: str, owner: str | None, direction: str, count: int) -> dict:
    return {
        "message_id": logged.message_id,
        "mailbox_key": key,
        "subject": logged.subject,
        "sender": logged.sender[1] or None,
        "sent_at": logged.sent_at or None,
        "direction": direction or None,
        "owner": owner,
        "text": logged.text if status != "skipped" else None,
        "status": status,
        "contacts": count,
        "logged_at": now_text(),
    }


def activity_record(logged: Logged, direction: str, owner: str | None) -> dict:
    who = ", ".join(f"{n} <{a}>" if n else a for n, a in logged.people[:20])
    arrow = "sent to" if direction == "out" else "received from"
    head = f"E-mail {arrow} the contact. People: {who}"
    if logged.forwarded_by:
        head += f"\nForwarded by {logged.forwarded_by}"
    return {
        "kind": "email",
        "channel": "email",
        "subject": logged.subject,
        "body": (head + "\n\n" + logged.text)[:MAX_BODY],
        "occurred_at": logged.sent_at or now_text(),
        "owner": owner,
        "done": 1,
    }


def _match(workspace: Workspace, addresses: list[str]) -> tuple[dict[str, int], set[str]]:
    """Address → contact id (by contact e-mail, or an address resolved on the review list); ignored addresses."""
    contacts: dict[str, int] = {}
    ignored: set[str] = set()
    if not addresses:
        return contacts, ignored
    marks = ",".join("?" * len(addresses))
    for row in workspace.store.query(
        f"SELECT lower(email) AS address, id FROM contacts WHERE email COLLATE NOCASE IN ({marks}) AND email != ''",
        addresses,
    ):
        contacts[row["address"]] = row["id"]
    for row in workspace.store.query(
        f"SELECT lower(address) AS address, status, contact_id FROM maillog_review"
        f" WHERE address COLLATE NOCASE IN ({marks}) AND status IN ('resolved', 'ignored')",
        addresses,
    ):
        if row["status"] == "ignored":
            ignored.add(row["address"])
        elif row["contact_id"] and row["address"] not in contacts:
            contacts[row["address"]] = row["contact_id"]
    return contacts, ignored


def log_on(workspace: Workspace, message_id: str, contact_ids: list[int], activity: dict) -> int:
    """One email activity per contact not yet holding this message; how many were made."""
    store = workspace.store
    made = 0
    for contact_id in contact_ids:
        if store.scalar(
            "SELECT 1 FROM maillog_links WHERE message_id = ? AND contact_id = ?", [message_id, contact_id]
        ):
            continue
        org = store.scalar("SELECT organization_id FROM contacts WHERE id = ?", [contact_id])
        row = store.insert("activities", {**activity, "contact_id": contact_id, "organization_id": org})
        store.insert("maillog_links", {"message_id": message_id, "contact_id": contact_id, "activity_id": row["id"]})
        made += 1
    return made


def _add_review(workspace: Workspace, address: str, name: str, message_id: str, now: str) -> None:
    store = workspace.store
    rows = store.query("SELECT id, name, seen, status FROM maillog_review WHERE address = ? COLLATE NOCASE", [address])
    if rows:
        row = rows[0]
        changes = {"last_seen": now, "seen": (row["seen"] or 0) + 1}
        if name and not row["name"]:
            changes["name"] = name
        store.update("maillog_review", row["id"], changes)
    else:
        store.insert(
            "maillog_review",
            {"address": address, "name": name or None, "message_ref": message_id, "first_seen": now, "last_seen": now},
        )
    if not store.scalar("SELECT 1 FROM maillog_mentions WHERE address = ? AND message_id = ?", [address, message_id]):
        store.insert("maillog_mentions", {"address": address, "message_id": message_id})


def forget_text(workspace: Workspace, message_ids: list[str]) -> None:
    """Clear the kept text of messages no open review entry needs any more (it lives on in the activities)."""
    store = workspace.store
    for message_id in message_ids:
        waiting = store.scalar(
            "SELECT count(*) FROM maillog_mentions m JOIN maillog_review r ON r.address = m.address COLLATE NOCASE"
            " WHERE m.message_id = ? AND r.status = 'open'",
            [message_id],
        )
        if waiting:
            continue
        row = store.query("SELECT id, status, text FROM maillog_messages WHERE message_id = ?", [message_id])
        if row and (row[0]["text"] is not None or row[0]["status"] == "pending"):
            store.update("maillog_messages", row[0]["id"], {"text": None, "status": "logged"})


def follow_moves(workspace: Workspace, changes: list) -> None:
    """Keep ``maillog_links`` on the contact a logged e-mail now belongs to (after a merge, an edit)."""
    store = workspace.store
    for change in changes:
        if not (change.table == "activities" and change.action == "update" and change.changed("contact_id")):
            continue
        contact_id = (change.after or {}).get("contact_id")
        for link in store.query("SELECT id, message_id FROM maillog_links WHERE activity_id = ?", [change.id]):
            taken = store.scalar(
                "SELECT 1 FROM maillog_links WHERE message_id = ? AND contact_id = ?", [link["message_id"], contact_id]
            )
            if contact_id and not taken:
                store.update("maillog_links", link["id"], {"contact_id": contact_id})
