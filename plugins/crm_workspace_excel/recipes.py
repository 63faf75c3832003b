"""Saved mapping recipes: a named mapping reused next month."""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from crm_workspace import NotFound
from crm_workspace.data.store import utcnow

migrations = sqlite_utils.Migrations("crm_workspace.excel")


@migrations()
def m001_recipes(db):
    db["excel_recipes"].create(
        {
            "name": str,
            "entity": str,
            "sheet": str,
            "mapping": str,
            "on_duplicate": str,
            "created_at": str,
            "created_by": str,
        },
        pk="name",
    )


@migrations()
def m002_custom_fields(db):
    db["excel_custom_fields"].create(
        {"id": int, "table_name": str, "row_id": int, "name": str, "value": str},
        pk="id",
        not_null={"table_name", "row_id", "name"},
    )
    db["excel_custom_fields"].create_index(["table_name", "row_id", "name"], unique=True)


def save(
    workspace, name: str, entity: str, mapping: dict[str, str | None], *, sheet: str = "", on_duplicate: str = "update"
) -> None:
    record = {
        "entity": entity,
        "sheet": sheet or "",
        "mapping": json.dumps(mapping, ensure_ascii=False),
        "on_duplicate": on_duplicate,
    }
    store = workspace.store
    with store.transaction():
        if store.query("SELECT 1 FROM excel_recipes WHERE name = ?", [name]):
            store.update("excel_recipes", name, record)
        else:
            store.insert(
                "excel_recipes", {"name": name, **record, "created_at": utcnow(), "created_by": workspace.user}
            )


def load(workspace, name: str) -> dict[str, Any]:
    rows = workspace.store.query("SELECT * FROM excel_recipes WHERE name = ?", [name])
    if not rows:
        known = ", ".join(r["name"] for r in list_all(workspace)) or "none saved yet"
        raise NotFound(f"no mapping recipe named {name!r} (recipes: {known})")
    row = rows[0]
    row["mapping"] = json.loads(row["mapping"] or "{}")
    return row


def list_all(workspace) -> list[dict[str, Any]]:
    return workspace.store.query(
        "SELECT name, entity, sheet, on_duplicate, created_at, created_by FROM excel_recipes ORDER BY name"
    )
