"""Static lists from an import batch: the contacts a spreadsheet import created or updated.

The import log (``import_batches``) and the audit trail (every write of an import is tagged
``import_batch=<id>`` in its context) are read by SQL on their shared table names, never by
importing the excel plugin: without it there are simply no batches to choose from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crm_workspace import CrmError, NotFound

from .segments import add_members

if TYPE_CHECKING:
    from crm_workspace import Workspace

BATCHES_SQL = """
SELECT id, at, user, file_name, entity, created, updated, status FROM import_batches
WHERE entity = 'contacts' AND status = 'done' ORDER BY at DESC, id DESC LIMIT :limit
"""

# the LIKE is a cheap pre-filter on the audit text; json_extract is the exact test
CONTACTS_SQL = """
SELECT DISTINCT CAST(a.row_id AS INTEGER) AS id FROM audit_log a
WHERE a.table_name = 'contacts' AND a.action IN ('insert', 'update')
  AND a.changes LIKE :pattern AND json_extract(a.changes, '$.context.import_batch') = :batch
  AND CAST(a.row_id AS INTEGER) IN (SELECT id FROM contacts)
"""


def _has_batches(workspace: Workspace) -> bool:
    return bool(workspace.store.scalar("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'import_batches'"))


def import_batches(workspace: Workspace, limit: int = 100) -> list[dict[str, Any]]:
    """The contact imports that can become a list, newest first (none without the import module)."""
    if not _has_batches(workspace):
        return []
    rows = workspace.query(BATCHES_SQL, {"limit": int(limit)})
    for row in rows:
        row["label"] = (
            f"{row['file_name'] or 'import'} · {str(row['at'] or '')[:16].replace('T', ' ')}"
            f" · {row['created'] or 0} new, {row['updated'] or 0} updated ({row['id']})"
        )
    return rows


def batch_contacts(workspace: Workspace, batch_id: str) -> list[int]:
    """The contacts ``batch_id`` created or updated that still exist; a clear error for a batch that cannot be used."""
    batch_id = str(batch_id or "").strip()
    if not batch_id:
        raise CrmError("choose an import batch")
    if not _has_batches(workspace):
        raise CrmError("there are no imports in this workspace (the spreadsheet import module is not installed)")
    rows = workspace.query("SELECT id, entity, status, file_name FROM import_batches WHERE id = ?", [batch_id])
    if not rows:
        raise NotFound(f"no import batch {batch_id!r} (see `crm imports list`)")
    batch = rows[0]
    if batch["entity"] != "contacts":
        raise CrmError(f"import batch {batch_id} imported {batch['entity']}, not contacts")
    if batch["status"] == "undone":
        raise CrmError(f"import batch {batch_id} was undone: its contacts are gone or restored")
    found = workspace.query(CONTACTS_SQL, {"pattern": f"%{batch_id}%", "batch": batch_id})
    return [r["id"] for r in found]


def add_import(workspace: Workspace, segment: str | int, batch_id: str) -> dict[str, int]:
    """Put the contacts an import batch created or updated on a static list: ``added``, ``already``, ``contacts``."""
    ids = batch_contacts(workspace, batch_id)
    added = add_members(workspace, segment, ids)
    return {"added": added, "already": len(ids) - added, "contacts": len(ids)}
