"""Possible duplicate contacts, merging two of them field by field, and undoing a merge.

Every step goes through the Store (validation, audit trail, change events) in
one transaction tagged ``merge=<log id>``; ``merge_log`` keeps what is needed to
undo it. The merged-away contact is deleted, but its lifecycle events (an
append-only table) keep its id: the winner's page shows them through the log,
and an undo re-creates the contact with the same id, so they re-attach.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any

from crm_workspace import ConflictError, CrmError, NotFound, Workspace
from crm_workspace.data.store import utcnow
from crm_workspace.services.privacy import erased

MERGEABLE_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "title",
    "organization_id",
    "stakeholder_type",
    "lifecycle_stage",
    "source",
    "notes",
    "owner",
)
NAME_THRESHOLD = 85.0
_STAMPS = {"id", "version", "created_at", "updated_at", "updated_by"}


def _plain(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode()
    return " ".join(folded.lower().split())


def find_duplicates(workspace: Workspace, limit: int = 200, threshold: float = NAME_THRESHOLD) -> list[dict]:
    """Pairs of contacts that may be the same person: a, b, reason, score (0-100), best first."""
    from rapidfuzz import fuzz

    store = workspace.store
    pairs: dict[tuple[int, int], dict] = {}

    def add(a: int, b: int, reason: str, score: float) -> None:
        key = (min(a, b), max(a, b))
        found = pairs.get(key)
        if found is None or found["score"] < score:
            pairs[key] = {"a": key[0], "b": key[1], "reason": reason, "score": round(score, 1)}

    for row in store.query(
        "SELECT group_concat(id) AS ids FROM contacts WHERE email IS NOT NULL AND email != ''"
        " GROUP BY lower(email) HAVING count(*) > 1 LIMIT ?",
        [limit],
    ):
        ids = [int(x) for x in row["ids"].split(",")]
        for other in ids[1:]:
            add(ids[0], other, "same email", 100.0)
    for row in store.query(
        "SELECT group_concat(id) AS ids FROM contacts WHERE phone IS NOT NULL AND phone != ''"
        " GROUP BY phone HAVING count(*) > 1 LIMIT ?",
        [limit],
    ):
        ids = [int(x) for x in row["ids"].split(",")]
        for other in ids[1:]:
            add(ids[0], other, "same phone", 95.0)
    # similar names at the same organization, one organization at a time (bounded work)
    current, group = None, []

    def flush() -> None:
        for i in range(len(group)):
            for j in range(i + 1, len(group)):
                score = fuzz.token_sort_ratio(group[i][1], group[j][1])
                if score >= threshold:
                    add(group[i][0], group[j][0], "similar name, same organization", score * 0.9)

    cursor = store.conn.execute(
        "SELECT organization_id, id, coalesce(first_name, '') || ' ' || coalesce(last_name, '') FROM contacts"
        " WHERE organization_id IS NOT NULL ORDER BY organization_id"
    )
    for org, cid, name in cursor:
        if org != current:
            flush()
            current, group = org, []
            if len(pairs) >= limit * 2:
                break
        group.append((cid, _plain(name)))
    flush()
    found = sorted(pairs.values(), key=lambda p: (-p["score"], p["a"], p["b"]))[:limit]
    if found:
        ids = sorted({p["a"] for p in found} | {p["b"] for p in found})
        names = {
            r["id"]: r
            for r in store.query(
                "SELECT c.id, trim(coalesce(c.first_name,'') || ' ' || coalesce(c.last_name,'')) AS name, c.email,"
                f" c.phone, o.name AS organization FROM contacts c LEFT JOIN organizations o ON o.id = c.organization_id"
                f" WHERE c.id IN ({', '.join('?' * len(ids))})",
                ids,
            )
        }
        for pair in found:
            pair["a_name"] = names[pair["a"]]["name"]
            pair["b_name"] = names[pair["b"]]["name"]
            pair["organization"] = names[pair["a"]]["organization"]
    return found


def merge_contacts(
    workspace: Workspace,
    winner_id: int,
    loser_id: int,
    choices: dict[str, str] | None = None,
    *,
    winner_version: int | None = None,
    loser_version: int | None = None,
) -> int:
    """Merge contact ``loser_id`` into ``winner_id``; returns the merge log id.

    ``choices`` maps a field to ``"winner"`` or ``"loser"`` (whose value to keep);
    unnamed fields keep the winner's value, or the loser's where the winner's is blank.
    Activities, deals, relationships and tags move to the winner; the loser is deleted.
    """
    if int(winner_id) == int(loser_id):
        raise CrmError("cannot merge a contact with itself")
    store = workspace.store
    choices = dict(choices or {})
    with store.transaction():
        winner = store.get("contacts", winner_id)
        loser = store.get("contacts", loser_id)
        _refuse_erased(workspace, [winner["id"], loser["id"]], "merged")
        for row, expected in ((winner, winner_version), (loser, loser_version)):
            if expected is not None and int(expected) != row["version"]:
                raise ConflictError("contacts", row["id"], int(expected), row, {})
        log_id = store.insert(
            "merge_log",
            {
                "at": utcnow(),
                "user": workspace.user,
                "table_name": "contacts",
                "winner_id": winner["id"],
                "loser_id": loser["id"],
                "status": "merging",
            },
        )["id"]
        with store.context(merge=log_id):
            changes = {}
            for field in MERGEABLE_FIELDS:
                if field not in winner:
                    continue
                choice = choices.get(field) or ("loser" if winner.get(field) in (None, "") else "winner")
                if choice == "loser" and loser.get(field) != winner.get(field):
                    changes[field] = loser.get(field)
            moved: dict[str, Any] = {"activities": [], "deals": [], "relationships": [], "tags": []}
            removed: dict[str, list] = {"relationships": [], "tags": []}
            for table in ("activities", "deals"):
                ids = [r["id"] for r in store.query(f"SELECT id FROM {table} WHERE contact_id = ?", [loser["id"]])]
                store.update_many(table, [(i, {"contact_id": winner["id"]}, None) for i in ids])
                moved[table] = ids
            for rel in store.query(
                "SELECT * FROM relationships WHERE (source_type = 'contacts' AND source_id = ?)"
                " OR (target_type = 'contacts' AND target_id = ?)",
                [loser["id"], loser["id"]],
            ):
                ends = {}
                if rel["source_type"] == "contacts" and rel["source_id"] == loser["id"]:
                    ends["source_id"] = winner["id"]
                if rel["target_type"] == "contacts" and rel["target_id"] == loser["id"]:
                    ends["target_id"] = winner["id"]
                merged = {**rel, **ends}
                self_link = (merged["source_type"], merged["source_id"]) == (merged["target_type"], merged["target_id"])
                if self_link:
                    store.delete("relationships", rel["id"])
                    removed["relationships"].append(rel)
                else:
                    store.update("relationships", rel["id"], ends)
                    moved["relationships"].append([rel["id"], sorted(ends)])
            winner_tags = {
                r["tag"] for r in store.query("SELECT tag FROM contact_tags WHERE contact_id = ?", [winner_id])
            }
            for tag in store.query("SELECT * FROM contact_tags WHERE contact_id = ?", [loser["id"]]):
                if tag["tag"] in winner_tags:
                    store.delete("contact_tags", tag["id"])
                    removed["tags"].append(tag)
                else:
                    store.update("contact_tags", tag["id"], {"contact_id": winner["id"]})
                    moved["tags"].append(tag["id"])
            store.delete("contacts", loser["id"])
            if changes:
                store.update("contacts", winner["id"], changes)
            details = {
                "loser": loser,
                "winner_before": {k: winner.get(k) for k in changes},
                "winner_after": changes,
                "moved": moved,
                "removed": removed,
            }
            store.update("merge_log", log_id, {"status": "merged", "details": json.dumps(details, default=str)})
    return log_id


def _refuse_erased(workspace: Workspace, contact_ids: list[int], what: str) -> None:
    """CrmError when one of the contacts was erased: its anonymised row is a tombstone, never merged."""
    gone = sorted(erased(workspace, contact_ids))
    if gone:
        raise CrmError(
            f"contact #{gone[0]} was erased for privacy: its anonymised row stays as a tombstone and cannot be {what}"
        )


def undo_merge(workspace: Workspace, log_id: int) -> None:
    """Undo a merge: the merged-away contact comes back with its id, its records move back."""
    store = workspace.store
    with store.transaction():
        try:
            log = store.get("merge_log", log_id)
        except NotFound:
            raise NotFound(f"no merge #{log_id}") from None
        if log["status"] != "merged":
            raise CrmError(f"merge #{log_id} is {log['status']}, it cannot be undone")
        _refuse_erased(workspace, [log["winner_id"]], f"unmerged (merge #{log_id})")
        try:
            details = json.loads(log["details"])
        except (TypeError, ValueError):  # erased with the person it held
            raise CrmError(f"merge #{log_id} cannot be undone: its record of the merged contact was erased") from None
        loser, winner_id = details["loser"], log["winner_id"]
        with store.context(merge_undo=log_id):
            current = store.get("contacts", winner_id)
            revert = {
                k: v for k, v in details["winner_before"].items() if current.get(k) == details["winner_after"].get(k)
            }
            if revert:
                store.update("contacts", winner_id, revert)
            store.insert("contacts", {k: v for k, v in loser.items() if k not in _STAMPS or k in ("id", "created_at")})
            moved = details["moved"]
            for table in ("activities", "deals"):
                ids = [
                    r["id"]
                    for r in store.query(
                        f"SELECT id FROM {table} WHERE contact_id = ? AND id IN (SELECT value FROM json_each(?))",
                        [winner_id, json.dumps(moved[table])],
                    )
                ]
                store.update_many(table, [(i, {"contact_id": loser["id"]}, None) for i in ids])
            for rel_id, ends in moved["relationships"]:
                rows = store.query("SELECT * FROM relationships WHERE id = ?", [rel_id])
                if rows:
                    store.update("relationships", rel_id, {end: loser["id"] for end in ends})
            for tag_id in moved["tags"]:
                if store.query("SELECT 1 FROM contact_tags WHERE id = ?", [tag_id]):
                    store.update("contact_tags", tag_id, {"contact_id": loser["id"]})
            for rel in details["removed"]["relationships"]:
                store.insert("relationships", {k: v for k, v in rel.items() if k not in _STAMPS or k == "id"})
            for tag in details["removed"]["tags"]:
                store.insert("contact_tags", tag)
            store.update("merge_log", log_id, {"status": "undone", "undone_at": utcnow(), "undone_by": workspace.user})


def merge_log(workspace: Workspace, limit: int = 100) -> list[dict]:
    return workspace.store.query(
        "SELECT m.id, m.at, m.user, m.winner_id, m.loser_id, m.status, m.undone_at,"
        " trim(coalesce(c.first_name,'') || ' ' || coalesce(c.last_name,'')) AS winner"
        " FROM merge_log m LEFT JOIN contacts c ON c.id = m.winner_id WHERE m.table_name = 'contacts'"
        " ORDER BY m.id DESC LIMIT ?",
        [limit],
    )
