"""Writes to the relationships table, all through the Store (validated, audited, versioned)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .queries import parse_node

if TYPE_CHECKING:
    from crm_workspace import Workspace


def add_relationship(
    ws: Workspace, source: str, target: str, kind: str, strength: int = 3, notes: str = ""
) -> dict[str, Any]:
    """Create a relationship ``source --kind--> target`` (validated by the Store hooks)."""
    s_table, s_id = parse_node(source)
    t_table, t_id = parse_node(target)
    return ws.store.insert(
        "relationships",
        {
            "source_type": s_table,
            "source_id": s_id,
            "target_type": t_table,
            "target_id": t_id,
            "kind": kind,
            "strength": strength,
            "notes": notes or None,
        },
    )


def update_relationship(ws: Workspace, rel_id: int, changes: dict[str, Any], version: int | None) -> dict[str, Any]:
    return ws.store.update("relationships", int(rel_id), changes, version=version)


def delete_relationship(ws: Workspace, rel_id: int, version: int | None) -> dict[str, Any]:
    return ws.store.delete("relationships", int(rel_id), version=version)


def accept_inferred(ws: Workspace, source_id: int, target_id: int, shared: int = 1) -> dict[str, Any]:
    """Turn a suggestion into a real ``works_with`` relationship (through the Store)."""
    return add_relationship(
        ws,
        f"contacts:{source_id}",
        f"contacts:{target_id}",
        "works_with",
        min(5, 1 + int(shared)),
        notes=f"inferred from {shared} shared activit{'y' if shared == 1 else 'ies'}",
    )


def duplicate_message(ws: Workspace, record: dict[str, Any], before: dict[str, Any] | None) -> dict[str, str] | None:
    """The duplicate check: one relationship per (source, target, kind)."""
    merged = {**(before or {}), **record}
    keys = ("source_type", "source_id", "target_type", "target_id", "kind")
    if before is not None and not any(k in record for k in keys):
        return None
    if any(merged.get(k) in (None, "") for k in keys):
        return None
    rows = ws.store.query(
        "SELECT id FROM relationships WHERE source_type = ? AND source_id = ? AND target_type = ? AND target_id = ?"
        " AND kind = ? AND id IS NOT ? LIMIT 1",
        [*(merged[k] for k in keys), (before or {}).get("id")],
    )
    if rows:
        return {
            "kind": f"this {merged['kind']} relationship from {merged['source_type']} #{merged['source_id']}"
            f" to {merged['target_type']} #{merged['target_id']} already exists (relationship #{rows[0]['id']})"
        }
    return None
