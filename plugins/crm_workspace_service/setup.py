"""Help-desk setup: business calendars, SLA policies and macros (every write validated by the Store)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from crm_workspace.errors import CrmError

from .rules import refresh_open
from .schema import PRIORITIES

if TYPE_CHECKING:
    from crm_workspace import Workspace

TARGETS = [f"{metric}_{p}" for metric in ("first_response", "resolution") for p in PRIORITIES]


def calendars(workspace: Workspace) -> list[dict]:
    return workspace.query("SELECT id, name, tz, hours, holidays FROM business_calendars ORDER BY id")


def save_calendar(
    workspace: Workspace, calendar_id: int | None, *, name: str, tz: str, hours: str, holidays: str
) -> dict:
    """Create or change a calendar; ``hours`` is JSON, ``holidays`` one ISO date per line (or JSON)."""
    try:
        parsed_hours = json.loads(hours or "{}")
    except ValueError as error:
        raise CrmError(f'working hours must be JSON like {{"mon": [["09:00", "17:00"]]}}: {error}') from None
    text = (holidays or "").strip()
    days = json.loads(text) if text.startswith("[") else [d.strip() for d in text.splitlines() if d.strip()]
    record = {
        "name": name.strip(),
        "tz": tz.strip() or "UTC",
        "hours": json.dumps(parsed_hours),
        "holidays": json.dumps(days),
    }
    with workspace.store.transaction():
        if calendar_id is None:
            return workspace.store.insert("business_calendars", record)
        row = workspace.store.update("business_calendars", int(calendar_id), record)
        refresh_open(workspace)  # open tickets' due times follow the new hours
        return row


def policies(workspace: Workspace) -> list[dict]:
    return workspace.query(
        f"SELECT id, name, calendar_id, is_default, {', '.join(TARGETS)} FROM sla_policies ORDER BY id"
    )


def save_policies(workspace: Workspace, rows: list[dict]) -> None:
    """Apply edited policy rows (targets in business minutes; empty = no target)."""
    updates = []
    for row in rows:
        changes = {k: (None if row.get(k) in ("", None) or row.get(k) != row.get(k) else int(row[k])) for k in TARGETS}
        changes.update(name=row["name"], calendar_id=int(row["calendar_id"]) if row.get("calendar_id") else None)
        updates.append((int(row["id"]), changes, None))
    with workspace.store.transaction():
        workspace.store.update_many("sla_policies", updates)
        refresh_open(workspace)  # open tickets' due times follow the new targets


def macros(workspace: Workspace) -> list[dict]:
    return workspace.query("SELECT id, name, kind, set_status, owner, body FROM service_macros ORDER BY name")


def add_macro(
    workspace: Workspace, *, name: str, body: str, set_status: str | None = None, shared: bool = True
) -> dict:
    from crm_workspace.services.templates import check

    if not (name or "").strip() or not (body or "").strip():
        raise CrmError("a macro needs a name and a text")
    check(body)
    return workspace.store.insert(
        "service_macros",
        {
            "name": name.strip(),
            "body": body,
            "kind": "public",
            "set_status": set_status or None,
            "owner": None if shared else workspace.user,
        },
    )
