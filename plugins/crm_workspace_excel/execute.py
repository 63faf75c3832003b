"""Writing a plan: one transaction through the Store, tagged with the import batch.

Every write is tagged ``import_batch=<id>`` so that ``batches.undo`` finds it in
the audit trail. Any failure writes nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from crm_workspace.data.collector import held_off
from crm_workspace.data.store import utcnow

from . import normalize as nz
from .plan import Plan

CHUNK = 20_000
#: Page-cache ceiling of the import's write transaction. The plan already holds every
#: record in memory; measured on the 100k and 300k benchmark imports, the store's default
#: 256 MB wrote no faster and raised the peak (by 113 MB at 100k rows).
IMPORT_CACHE_KIB = 96 * 1024


def new_batch_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


def execute(workspace, plan: Plan, *, progress: Callable[[int, int], None] | None = None) -> str:
    """Write the plan in one transaction; returns the batch id. Any failure writes nothing."""
    with held_off():
        return _execute(workspace, plan, progress)


def _execute(workspace, plan: Plan, progress: Callable[[int, int], None] | None) -> str:
    store = workspace.store
    batch_id = new_batch_id()
    total = len(plan.creates) + len(plan.updates) + len(plan.new_orgs)
    done = 0
    with store.transaction(savepoints=False, cache_kib=IMPORT_CACHE_KIB), store.context(import_batch=batch_id):
        store.insert_many(
            "import_batches",
            [
                {
                    "id": batch_id,
                    "at": utcnow(),
                    "user": workspace.user,
                    "file_name": plan.file_name,
                    "sha256": plan.sha256,
                    "entity": plan.entity,
                    "created": 0,
                    "updated": 0,
                    "skipped": 0,
                    "rejected": 0,
                    "status": "running",
                }
            ],
        )
        org_ids: dict[str, int] = {}
        if plan.new_orgs and plan.entity != "organizations":
            keys = list(plan.new_orgs)
            ids = store.insert_many("organizations", [{"name": plan.new_orgs[k]} for k in keys])
            org_ids = dict(zip(keys, ids, strict=True))
            done += len(keys)
        if progress:
            progress(done, total)
        # every change and record was validated by the same hooks while planning (rejects need per-row
        # answers): the validator vouches for them. Organization ids added here are of rows just inserted.
        checked = store.validator(plan.entity)
        # updates first: they touch scattered existing pages, best done before the inserts fill the page cache
        updates = []
        for row, row_id, changes, _before in plan.updates:
            if row.org_name is not None and nz.org_key(row.org_name) in org_ids:
                changes["organization_id"] = org_ids[nz.org_key(row.org_name)]
            updates.append((row_id, changes, None))
        changed_since = _changed_since(store, plan)
        for start in range(0, len(updates), CHUNK):
            chunk = updates[start : start + CHUNK]
            stale = [update for update in chunk if update[0] in changed_since]
            if stale:  # edited since the plan (a preview left open): checked against the record as it is now
                store.update_many(plan.entity, stale)
            fresh = [update for update in chunk if update[0] not in changed_since] if stale else chunk
            store.update_many(plan.entity, fresh, validated=checked)
            done += len(chunk)
            if progress:
                progress(done, total)
        entity_ids: list[Any] = []
        for start in range(0, len(plan.creates), CHUNK):
            # copies made a chunk at a time: adding keys to 300k planned records would grow them for good
            chunk = []
            for row in plan.creates[start : start + CHUNK]:
                record = row.record
                if row.org_name is not None and "organization_id" not in record:
                    record = {**record, "organization_id": org_ids.get(nz.org_key(row.org_name))}
                chunk.append(record)
            entity_ids.extend(store.insert_many(plan.entity, chunk, validate=False, validated=checked))
            done += len(chunk)
            if progress:
                progress(done, total)
        _write_custom(store, plan, entity_ids)
        counts = plan.counts
        store.update(
            "import_batches",
            batch_id,
            {
                "created": counts["created"],
                "updated": counts["updated"],
                "skipped": counts["skipped"] + counts["unchanged"],
                "rejected": counts["rejected"],
                "status": "done",
            },
        )
    return batch_id


def _changed_since(store, plan: Plan) -> set[Any]:
    """The ids of records to update whose version is no longer the one the plan saw."""
    changed: set[Any] = set()
    ids = list(plan.versions)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = store.query(
            f"SELECT id, version FROM [{plan.entity}] WHERE id IN ({', '.join('?' * len(chunk))})", chunk
        )
        changed.update(row["id"] for row in rows if row["version"] != plan.versions[row["id"]])
    return changed


def _write_custom(store, plan: Plan, created_ids: list[Any]) -> None:
    """Columns kept as custom fields: one excel_custom_fields row per record and header."""
    targets = [(row, row_id) for row, row_id in zip(plan.creates, created_ids, strict=True) if row.custom]
    targets += [(row, row_id) for row, row_id, _c, _b in plan.updates if row.custom]
    if not targets:
        return
    existing = {}
    updated_ids = [row_id for row, row_id, _c, _b in plan.updates if row.custom]
    for start in range(0, len(updated_ids), 500):
        chunk = updated_ids[start : start + 500]
        for found in store.query(
            "SELECT id, row_id, name, value FROM excel_custom_fields WHERE table_name = ? AND row_id IN ({})".format(
                ",".join("?" * len(chunk))
            ),
            [plan.entity, *chunk],
        ):
            existing[(found["row_id"], found["name"])] = found
    inserts, updates = [], []
    for row, row_id in targets:
        for name, value in row.custom.items():
            old = existing.get((row_id, name))
            if old is None:
                inserts.append({"table_name": plan.entity, "row_id": row_id, "name": name, "value": value})
            elif old["value"] != value:
                updates.append((old["id"], {"value": value}, None))
    if inserts:
        store.insert_many("excel_custom_fields", inserts)
    if updates:
        store.update_many("excel_custom_fields", updates)


def custom_fields(workspace, table: str, row_id: int) -> dict[str, str]:
    """The custom fields an import kept for one record: ``{header: value}``."""
    rows = workspace.store.query(
        "SELECT name, value FROM excel_custom_fields WHERE table_name = ? AND row_id = ? ORDER BY name", [table, row_id]
    )
    return {r["name"]: r["value"] for r in rows}


def save_custom_fields(workspace, table: str, row_id: int, values: dict[str, str]) -> int:
    """Store edited custom-field values of one record (a blank value removes the field); returns how many changed."""
    store = workspace.store
    changed = 0
    with store.transaction():
        existing = {
            r["name"]: r
            for r in store.query(
                "SELECT id, name, value FROM excel_custom_fields WHERE table_name = ? AND row_id = ?", [table, row_id]
            )
        }
        for name, value in values.items():
            value = (value or "").strip()
            old = existing.get(name)
            if old is None:
                if value:
                    store.insert(
                        "excel_custom_fields", {"table_name": table, "row_id": row_id, "name": name, "value": value}
                    )
                    changed += 1
            elif not value:
                store.delete("excel_custom_fields", old["id"])
                changed += 1
            elif value != old["value"]:
                store.update("excel_custom_fields", old["id"], {"value": value})
                changed += 1
    return changed
