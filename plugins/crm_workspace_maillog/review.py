"""The review list: addresses mail named that are no contact, and what a person decides.

- **create**: a new contact with that e-mail (and the name the mail gave, or one typed);
- **attach**: the address belongs to an existing contact (kept as an alias: later mail
  from it is filed there too);
- **ignore**: not a person to keep (a colleague elsewhere, a service): later mail skips it.

Creating or attaching logs every message that named the address on that contact, in
the same transaction as the decision.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crm_workspace.errors import CrmError, NotFound, PermissionDenied

from .filing import activity_record, forget_text, log_on
from .parse import Logged, now_text

if TYPE_CHECKING:
    from crm_workspace import Workspace

STATUSES = ("open", "ignored", "resolved")


def review_rows(workspace: Workspace, status: str = "open", limit: int = 200) -> list[dict]:
    """Review entries (``open`` by default), oldest first, with how many messages named each."""
    return workspace.store.query(
        "SELECT r.id, r.address, r.name, r.first_seen, r.last_seen, r.status, r.contact_id, r.message_ref,"
        " (SELECT count(*) FROM maillog_mentions m WHERE m.address = r.address COLLATE NOCASE) AS messages,"
        " (SELECT subject FROM maillog_messages g WHERE g.message_id = r.message_ref) AS first_subject"
        " FROM maillog_review r WHERE r.status = ? ORDER BY r.first_seen, r.id LIMIT ?",
        [status, int(limit)],
    )


def recent_messages(workspace: Workspace, limit: int = 50) -> list[dict]:
    return workspace.store.query(
        "SELECT id, logged_at, sent_at, direction, sender, subject, status, contacts, error FROM maillog_messages"
        " ORDER BY id DESC LIMIT ?",
        [int(limit)],
    )


def counts(workspace: Workspace) -> dict[str, int]:
    rows = workspace.store.query("SELECT status, count(*) AS n FROM maillog_messages GROUP BY status")
    found = {"logged": 0, "pending": 0, "skipped": 0, "failed": 0}
    found.update({r["status"]: r["n"] for r in rows})
    found["to_review"] = workspace.store.scalar("SELECT count(*) FROM maillog_review WHERE status = 'open'") or 0
    return found


def _entry(workspace: Workspace, address: str) -> dict:
    if workspace.read_only:
        raise PermissionDenied(f"{workspace.user} may not change the review list (read-only)")
    rows = workspace.store.query("SELECT * FROM maillog_review WHERE address = ? COLLATE NOCASE", [address.strip()])
    if not rows:
        raise NotFound(f"{address} is not on the review list")
    if rows[0]["status"] != "open":
        raise CrmError(f"{address} was already {rows[0]['status']}")
    return rows[0]


def _log_mentions(workspace: Workspace, address: str, contact_id: int) -> int:
    store = workspace.store
    made = 0
    messages = store.query(
        "SELECT g.* FROM maillog_mentions m JOIN maillog_messages g ON g.message_id = m.message_id"
        " WHERE m.address = ? COLLATE NOCASE ORDER BY g.id",
        [address],
    )
    for row in messages:
        logged = Logged(
            message_id=row["message_id"],
            subject=row["subject"] or "(no subject)",
            sender=("", row["sender"] or ""),
            people=[("", row["sender"])] if row["sender"] else [],
            sent_at=row["sent_at"] or "",
            text=row["text"] or "",
        )
        activity = activity_record(logged, row["direction"] or "in", row["owner"])
        count = log_on(workspace, row["message_id"], [contact_id], activity)
        if count:
            store.update("maillog_messages", row["id"], {"contacts": (row["contacts"] or 0) + count})
        made += count
    return made


def _resolve(workspace: Workspace, entry: dict, contact_id: int) -> int:
    store = workspace.store
    store.update(
        "maillog_review",
        entry["id"],
        {"status": "resolved", "contact_id": contact_id, "resolved_by": workspace.user, "resolved_at": now_text()},
    )
    made = _log_mentions(workspace, entry["address"], contact_id)
    ids = [
        r["message_id"]
        for r in store.query("SELECT message_id FROM maillog_mentions WHERE address = ?", [entry["address"]])
    ]
    forget_text(workspace, ids)
    return made


def create_contact(workspace: Workspace, address: str, first_name: str = "", last_name: str = "") -> tuple[dict, int]:
    """A new contact for ``address``; it and the messages logged on it (how many)."""
    entry = _entry(workspace, address)
    if not (first_name or last_name):
        parts = (entry["name"] or "").split()
        first_name, last_name = (" ".join(parts[:-1]), parts[-1]) if len(parts) > 1 else (parts[0] if parts else "", "")
    if not (first_name or last_name):
        first_name = entry["address"].split("@")[0]
    with workspace.store.transaction():
        contact = workspace.store.insert(
            "contacts",
            {
                "first_name": first_name or None,
                "last_name": last_name or None,
                "email": entry["address"],
                "source": "e-mail log",
            },
        )
        made = _resolve(workspace, entry, contact["id"])
    return contact, made


def attach(workspace: Workspace, address: str, contact_id: int) -> int:
    """Attach ``address`` to an existing contact; the messages logged on it."""
    entry = _entry(workspace, address)
    workspace.store.get("contacts", contact_id)  # NotFound for a wrong id
    with workspace.store.transaction():
        return _resolve(workspace, entry, contact_id)


def ignore(workspace: Workspace, address: str) -> None:
    """Never file mail on ``address`` (it stays listed as ignored)."""
    entry = _entry(workspace, address)
    with workspace.store.transaction():
        workspace.store.update(
            "maillog_review",
            entry["id"],
            {"status": "ignored", "resolved_by": workspace.user, "resolved_at": now_text()},
        )
        ids = [
            r["message_id"]
            for r in workspace.store.query(
                "SELECT message_id FROM maillog_mentions WHERE address = ?", [entry["address"]]
            )
        ]
        forget_text(workspace, ids)
