"""Import batches: the list, and undo of one whole batch through the audit trail."""

from __future__ import annotations

import json
from typing import Any

from crm_workspace import CrmError, NotFound


def undo(workspace, batch_id: str) -> dict[str, int]:
    """Delete what the batch created, restore what it updated; refuses if edited since or undone."""
    store = workspace.store
    rows = store.query("SELECT * FROM import_batches WHERE id = ?", [batch_id])
    if not rows:
        raise NotFound(f"no import batch {batch_id!r} (see `crm imports list`)")
    batch = rows[0]
    if batch["status"] == "undone":
        raise CrmError(f"import batch {batch_id} was already undone; nothing to do")
    pattern = f'%"import_batch":%{json.dumps(batch_id)}%'  # a cheap pre-filter; the JSON check below is exact
    writes = store.query(
        "SELECT id, table_name, row_id, action, changes FROM audit_log WHERE changes LIKE ? ORDER BY id", [pattern]
    )
    writes = [w for w in writes if json.loads(w["changes"]).get("context", {}).get("import_batch") == batch_id]
    writes = [w for w in writes if w["table_name"] != "import_batches"]
    if writes:
        first_id = writes[0]["id"]
        mine = {w["id"] for w in writes}
        touched = {(w["table_name"], w["row_id"]) for w in writes}
        later = store.query(
            "SELECT id, table_name, row_id, user, at FROM audit_log WHERE id > ? AND table_name IN ({}) ORDER BY id".format(
                ",".join("?" * len({t for t, _r in touched}))
            ),
            [first_id, *sorted({t for t, _r in touched})],
        )
        edited = [w for w in later if w["id"] not in mine and (w["table_name"], w["row_id"]) in touched]
        if edited:  # a later batch that was itself undone (and its undo) left no change behind
            undone = {r["id"] for r in store.query("SELECT id FROM import_batches WHERE status = 'undone'")}
            for w in edited:
                w["changes"] = store.scalar("SELECT changes FROM audit_log WHERE id = ?", [w["id"]])
            edited = [w for w in edited if not _from_undone_batch(w["changes"], undone)]
        if edited:
            sample = ", ".join(f"{w['table_name']} #{w['row_id']} (by {w['user']} at {w['at']})" for w in edited[:3])
            more = f" and {len(edited) - 3} more" if len(edited) > 3 else ""
            raise CrmError(
                f"cannot undo import batch {batch_id}: {len(edited)} of its records were changed since "
                f"({sample}{more}); nothing was undone"
            )
    updates: dict[str, list] = {}
    inserts: list[tuple[str, Any]] = []
    for write in reversed(writes):
        row_id = int(write["row_id"]) if write["row_id"].isdigit() else write["row_id"]
        if write["action"] == "update":
            before = json.loads(write["changes"]).get("before", {})
            updates.setdefault(write["table_name"], []).append((row_id, before, None))
        elif write["action"] == "insert":
            inserts.append((write["table_name"], row_id))
    with store.transaction(), store.context(undo_of=batch_id):
        for table, changes in updates.items():
            store.update_many(table, changes)
        start = 0
        while start < len(inserts):  # newest first, one delete_many per run of one table
            table = inserts[start][0]
            end = start
            while end < len(inserts) and inserts[end][0] == table:
                end += 1
            store.delete_many(table, [(row_id, None) for _t, row_id in inserts[start:end]])
            start = end
        store.update("import_batches", batch_id, {"status": "undone"})
    deleted = len(inserts)
    restored = sum(len(v) for v in updates.values())
    return {"deleted": deleted, "restored": restored}


def _from_undone_batch(changes: str, undone: set[str]) -> bool:
    context = json.loads(changes).get("context") or {}
    return context.get("import_batch") in undone or context.get("undo_of") in undone


def list_batches(workspace, limit: int = 50) -> list[dict[str, Any]]:
    return workspace.store.query("SELECT * FROM import_batches ORDER BY at DESC, id DESC LIMIT ?", [limit])
