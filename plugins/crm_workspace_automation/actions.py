"""What a rule does: create a task, set a field, add a tag, send an internal e-mail, call a webhook.

Each action is ``{"type": ..., ...}``. Text fields may name the record's fields as
``{{ field }}`` (``"Call {{ first_name }} about {{ title }}"``). Every write goes through
the Store (validation, audit, events) under ``store.context(rule=id, ...)``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from crm_workspace.errors import CrmError

from .conditions import TIMELINE

TYPES = {
    "create_task": "create a task for the record's owner (subject, due_days, assign_to)",
    "set_field": "set a field of the record (field, value)",
    "add_tag": "add a tag to the record's contact (tag)",
    "send_email": "send an internal e-mail through the outbox (to: owner or an address, subject, text)",
    "webhook": "send the record to a webhook subscription (subscription, event)",
}
_FIELD = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class ActionFailed(CrmError):
    """An action that could not be done; the rule run records it and the write stands."""


def fill(text: Any, record: dict) -> str:
    return _FIELD.sub(lambda m: "" if record.get(m.group(1)) is None else str(record.get(m.group(1))), str(text or ""))


def problems(actions: Any, columns: dict[str, str], table: str, ws) -> dict[str, str]:
    if not isinstance(actions, list) or not actions:
        return {"actions": "name at least one action"}
    errors: dict[str, str] = {}
    for i, action in enumerate(actions, 1):
        key = f"actions[{i}]"
        kind = action.get("type") if isinstance(action, dict) else None
        if kind not in TYPES:
            errors[key] = f"unknown action {kind!r} (actions: {', '.join(TYPES)})"
        elif kind == "set_field":
            field = action.get("field")
            if field not in columns or field in ("id", "version", "created_at", "updated_at", "updated_by"):
                errors[key] = f"{table} has no field {field!r} a rule may set"
        elif kind == "add_tag":
            if not str(action.get("tag") or "").strip():
                errors[key] = "name the tag to add"
            elif table != "contacts" and "contact_id" not in columns:
                errors[key] = f"{table} records name no contact to tag"
        elif kind == "send_email":
            if not str(action.get("to") or "").strip() or not str(action.get("subject") or "").strip():
                errors[key] = "an e-mail needs 'to' (owner or an address) and a subject"
        elif kind == "webhook":
            sub = action.get("subscription")
            if not ws.store.query("SELECT 1 FROM webhook_subscriptions WHERE id = ?", [sub]):
                errors[key] = f"no webhook subscription #{sub}"
        elif kind == "create_task" and not str(action.get("subject") or "").strip():
            errors[key] = "a task needs a subject"
    return errors


def links(ws, table: str, record: dict) -> dict[str, Any]:
    """The activity columns that put a row on ``record``'s timeline."""
    found: dict[str, Any] = {}
    if table in TIMELINE:
        found[TIMELINE[table]] = record.get("id")
    for column in ("contact_id", "organization_id", "deal_id"):
        if record.get(column) and column not in found and column in ws.store.columns("activities"):
            found[column] = record[column]
    return found


def _now(now: str | None) -> datetime:
    return datetime.fromisoformat(now.replace("Z", "+00:00")) if now else datetime.now(UTC)


def create_task(ws, rule: dict, table: str, record: dict, action: dict, now: str | None) -> str:
    due = _now(now) + timedelta(days=float(action.get("due_days") or 0))
    owner = action.get("assign_to") or record.get("owner") or rule.get("owner")
    task = {
        "kind": "task",
        "subject": fill(action.get("subject"), record)[:200],
        "body": fill(action.get("body") or f"Created by the rule '{rule['name']}'.", record),
        "due_at": due.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "done": 0,
        "owner": owner,
        **links(ws, table, record),
    }
    row = ws.store.insert("activities", task)
    return f"task #{row['id']} for {owner or 'nobody'}"


def set_field(ws, rule: dict, table: str, record: dict, action: dict, now: str | None) -> str:
    field = action["field"]
    ws.store.update(table, record["id"], {field: action.get("value")})
    return f"set {field} = {action.get('value')!r}"


def add_tag(ws, rule: dict, table: str, record: dict, action: dict, now: str | None) -> str:
    contact = record.get("id") if table == "contacts" else record.get("contact_id")
    tag = fill(action.get("tag"), record).strip()
    if not contact:
        raise ActionFailed(f"{table} #{record.get('id')} names no contact to tag")
    if ws.store.query("SELECT 1 FROM contact_tags WHERE contact_id = ? AND tag = ?", [contact, tag]):
        return f"contact #{contact} already tagged {tag!r}"
    ws.store.insert("contact_tags", {"contact_id": contact, "tag": tag})
    return f"tagged contact #{contact} {tag!r}"


def _recipient(ws, record: dict, to: str) -> str:
    if to.strip().lower() != "owner":
        return to.strip()
    owner = record.get("owner")
    rows = ws.store.query("SELECT email FROM users WHERE username = ?", [owner]) if owner else []
    if not rows or not rows[0]["email"]:
        raise ActionFailed(f"the owner {owner or '(none)'} has no e-mail address")
    return rows[0]["email"]


def send_email(ws, rule: dict, table: str, record: dict, action: dict, now: str | None) -> str:
    try:
        from crm_workspace.services import outbox
        from crm_workspace.services.mailer import make_message
    except ImportError as error:
        raise ActionFailed("the core mail outbox is not available in this version") from error
    to = _recipient(ws, record, str(action.get("to")))
    subject = fill(action.get("subject"), record)
    text = fill(action.get("text"), record) or f"{subject}\n\n{table} #{record.get('id')} (rule: {rule['name']})"
    message = make_message(to=to, subject=subject, text=text)
    key = f"automation:rule{rule['id']}:{table}:{record.get('id')}:{record.get('version') or now or ''}"
    contact = record.get("id") if table == "contacts" else record.get("contact_id")
    outbox.enqueue(
        ws, message, key=key, plugin="automation", ref_table=table, ref_id=record.get("id"), contact_id=contact
    )
    return f"e-mail to {to} queued"


def webhook(ws, rule: dict, table: str, record: dict, action: dict, now: str | None) -> str:
    from .webhooks import enqueue_event

    event = str(action.get("event") or "rule.fired")
    row = enqueue_event(
        ws,
        action["subscription"],
        event,
        {"rule": {"id": rule["id"], "name": rule["name"]}, "table": table, "id": record.get("id"), "record": record},
        table=table,
        record_id=record.get("id"),
    )
    return f"webhook {event} queued for subscription #{action['subscription']} (delivery #{row['id']})"


RUN = {
    "create_task": create_task,
    "set_field": set_field,
    "add_tag": add_tag,
    "send_email": send_email,
    "webhook": webhook,
}
