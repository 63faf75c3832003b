"""Sequences, their steps and enrollments: saving, validating, triggers that enrol people.

A trigger enrols a contact inside the write that caused it (``crm_record_changed``), with one
INSERT into ``sequence_enrollments``: lifecycle stage becomes X (``contacts``), a tag added
(``contact_tags``), a sign-up form confirmed (``form_submissions.confirmed_at`` set by the
marketing forms). "Enters a segment" is found by the runner instead: the marketing plugin
writes ``segment_members`` in raw SQL (no ``crm_record_changed``), so ``enrol_segment_entries``
compares its ``added_at`` with the sequence's creation time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crm_workspace import CrmError, NotFound
from crm_workspace.data.store import utcnow
from crm_workspace.services.privacy import erased
from crm_workspace.web.display import label

from ..erased import forget as forget_erased
from .checks import EXITS, LOCKED_FIELDS, STATUSES, STEP_KINDS, TRIGGERS, _json, check_steps, dumps

__all__ = ["EXITS", "LOCKED_FIELDS", "STATUSES", "STEP_KINDS", "TRIGGERS", "dumps"]

if TYPE_CHECKING:
    from crm_workspace import Change, Workspace


# ----------------------------------------------------------------- reading
def get_sequence(workspace: Workspace, sequence: str | int) -> dict[str, Any]:
    """A sequence by name (any case) or id, with ``steps``, ``trigger`` and ``exits`` decoded."""
    if isinstance(sequence, int) or str(sequence).isdigit():
        rows = workspace.query("SELECT * FROM sequences WHERE id = ?", [int(sequence)])
    else:
        rows = workspace.query("SELECT * FROM sequences WHERE name = ? COLLATE NOCASE", [str(sequence).strip()])
    if not rows:
        names = [r["name"] for r in workspace.query("SELECT name FROM sequences ORDER BY id LIMIT 20")]
        raise NotFound(f"no sequence named '{sequence}' (sequences: {', '.join(names) or 'none yet'})")
    row = rows[0]
    row["trigger"] = _json(row["trigger_args"], {})
    row["exits"] = _json(row["exit_on"], [])
    row["steps"] = steps_of(workspace, row["id"])
    return row


def steps_of(workspace: Workspace, sequence_id: int) -> list[dict[str, Any]]:
    rows = workspace.query(
        "SELECT id, position, kind, args FROM sequence_steps WHERE sequence_id = ? ORDER BY position", [sequence_id]
    )
    return [{**r, "args": _json(r["args"], {})} for r in rows]


LIST_SQL = """
SELECT s.id, s.name, s.status, s.trigger_kind, s.trigger_args, s.exit_on,
  (SELECT count(*) FROM sequence_steps t WHERE t.sequence_id = s.id) AS steps,
  (SELECT count(*) FROM sequence_enrollments e WHERE e.sequence_id = s.id AND e.status = 'active') AS active,
  (SELECT count(*) FROM sequence_enrollments e WHERE e.sequence_id = s.id AND e.status = 'completed') AS completed,
  (SELECT count(*) FROM sequence_enrollments e WHERE e.sequence_id = s.id AND e.status = 'exited') AS exited,
  (SELECT count(*) FROM sequence_enrollments e WHERE e.sequence_id = s.id AND e.status = 'failed') AS failed,
  (SELECT min(next_run_at) FROM sequence_enrollments e WHERE e.sequence_id = s.id AND e.status = 'active')
    AS next_due
FROM sequences s ORDER BY s.name COLLATE NOCASE
"""
LIST_COLUMNS = ["id", "name", "status", "trigger", "steps", "active", "completed", "exited", "failed", "next_due"]


def list_sequences(workspace: Workspace) -> list[dict[str, Any]]:
    out = []
    for r in workspace.query(LIST_SQL):
        r["trigger"] = describe_trigger(r["trigger_kind"], _json(r["trigger_args"], {}))
        out.append({k: r[k] for k in LIST_COLUMNS})
    return out


def describe_trigger(kind: str, args: dict[str, Any]) -> str:
    """What starts a sequence, as the end of a sentence "Starts when ...": "a contact's lifecycle stage becomes Lead"."""
    value = next((str(v) for v in args.values() if v not in (None, "")), "")
    return {
        "enters_segment": f"a contact enters the segment “{value}”",
        "lifecycle_stage": f"a contact's lifecycle stage becomes {label(value)}",
        "form_submitted": f"a contact submits the form “{value}”" if value else "a contact submits any form",
        "tag_added": f"the tag “{value}” is added to a contact",
    }.get(kind, label(kind))


STEP_COUNTS_SQL = """
SELECT t.position, t.kind,
  (SELECT count(*) FROM sequence_enrollments e WHERE e.sequence_id = t.sequence_id AND e.status = 'active'
     AND e.current_step = t.position) AS waiting_here,
  (SELECT count(*) FROM sequence_enrollments e WHERE e.sequence_id = t.sequence_id AND e.status = 'active'
     AND e.current_step = t.position AND e.next_run_at <= :now) AS due_now,
  (SELECT min(e.next_run_at) FROM sequence_enrollments e WHERE e.sequence_id = t.sequence_id
     AND e.status = 'active' AND e.current_step = t.position) AS next_due,
  (SELECT count(*) FROM sequence_runs r WHERE r.sequence_id = t.sequence_id AND r.step = t.position
     AND r.outcome = 'ok') AS done,
  (SELECT count(*) FROM sequence_runs r WHERE r.sequence_id = t.sequence_id AND r.step = t.position
     AND r.outcome = 'failed') AS failures
FROM sequence_steps t WHERE t.sequence_id = :sequence ORDER BY t.position
"""


def step_counts(workspace: Workspace, sequence_id: int, now: str | None = None) -> list[dict[str, Any]]:
    """Each step: who is at it now, how many are due, when the next is due, done and failed runs."""
    rows = workspace.query(STEP_COUNTS_SQL, {"sequence": sequence_id, "now": now or utcnow()})
    steps = {s["position"]: s for s in steps_of(workspace, sequence_id)}
    for r in rows:
        r["step"] = describe_step(steps[r["position"]])
    return rows


def describe_step(step: dict[str, Any]) -> str:
    a, kind = step["args"], step["kind"]
    if kind == "wait":
        return f"wait {a.get('days', 0) or 0} d {a.get('hours', 0) or 0} h"
    if kind == "email":
        return f"e-mail “{a.get('subject', '')}”"
    if kind == "task":
        return f"task “{a.get('title', '')}” for the owner"
    if kind == "set_field":
        return f"set {a.get('field')} = {a.get('value')}"
    if kind == "set_stage":
        return f"set stage {a.get('stage')}"
    if kind == "branch":
        return (
            f"if {a.get('on', 'opened')} within {a.get('within_days', 3)} d → step {a.get('yes')}, "
            f"else → step {a.get('no')}"
        )
    return kind


# ----------------------------------------------------------------- writing
def save_sequence(
    workspace: Workspace,
    fields: dict[str, Any],
    steps: list[dict[str, Any]] | None = None,
    sequence_id: int | None = None,
    version: int | None = None,
) -> dict[str, Any]:
    """Create or change a sequence (and replace its steps when given) in one transaction."""
    record = dict(fields)
    for key in ("trigger_args", "exit_on"):
        if key in record and not isinstance(record[key], str):
            record[key] = dumps(record[key])
    if steps is not None:
        check_steps(workspace, steps)
    store = workspace.store
    with store.transaction():
        if sequence_id is None:
            row = store.insert("sequences", record)
        else:
            row = store.update("sequences", sequence_id, record, version=version)
        if steps is not None:
            old = workspace.query("SELECT id FROM sequence_steps WHERE sequence_id = ?", [row["id"]])
            if old:
                store.delete_many("sequence_steps", [(r["id"], None) for r in old])
            store.insert_many(
                "sequence_steps",
                [
                    {"sequence_id": row["id"], "position": i, "kind": s["kind"], "args": dumps(s.get("args") or {})}
                    for i, s in enumerate(steps)
                ],
            )
    return get_sequence(workspace, row["id"])


def set_status(workspace: Workspace, sequence: str | int, status: str) -> dict[str, Any]:
    row = get_sequence(workspace, sequence)
    workspace.store.update("sequences", row["id"], {"status": status})
    return get_sequence(workspace, row["id"])


# --------------------------------------------------------------- enrolling
def enrol(workspace: Workspace, sequence_id: int, contact_id: int, now: str | None = None) -> dict | None:
    """One INSERT: the contact starts at step 0, due now; None if already in (or ever in) this sequence."""
    store = workspace.store
    if store.scalar(
        "SELECT 1 FROM sequence_enrollments WHERE sequence_id = ? AND contact_id = ? LIMIT 1", [sequence_id, contact_id]
    ):
        return None
    now = now or utcnow()
    return store.insert(
        "sequence_enrollments",
        {
            "sequence_id": sequence_id,
            "contact_id": contact_id,
            "current_step": 0,
            "next_run_at": now,
            "step_started_at": now,
            "status": "active",
            "enrolled_at": now,
        },
    )


def enrol_many(workspace: Workspace, pairs: list[tuple[int, int]], now: str | None = None) -> int:
    """Enrol (sequence id, contact id) pairs not yet (or ever) enrolled, in one INSERT; how many."""
    pairs = list(dict.fromkeys(pairs))
    gone = erased(workspace, [cid for _, cid in pairs])
    pairs = [(sid, cid) for sid, cid in pairs if cid not in gone]  # an erased person is never enrolled
    known = {
        (r["sequence_id"], r["contact_id"])
        for r in workspace.query(
            "SELECT e.sequence_id, e.contact_id FROM sequence_enrollments e JOIN json_each(:pairs) p"
            " ON e.sequence_id = json_extract(p.value, '$[0]') AND e.contact_id = json_extract(p.value, '$[1]')",
            {"pairs": dumps(pairs)},
        )
    }
    now = now or utcnow()
    rows = [
        {
            "sequence_id": sid,
            "contact_id": cid,
            "current_step": 0,
            "next_run_at": now,
            "step_started_at": now,
            "status": "active",
            "enrolled_at": now,
        }
        for sid, cid in pairs
        if (sid, cid) not in known
    ]
    if rows:
        workspace.store.insert_many("sequence_enrollments", rows)
    return len(rows)


def enrol_by_name(workspace: Workspace, sequence: str | int, contact_id: int) -> dict[str, Any]:
    row = get_sequence(workspace, sequence)
    workspace.store.get("contacts", contact_id)  # NotFound for a missing contact
    found = enrol(workspace, row["id"], contact_id)
    if found is None:
        raise CrmError(f"contact #{contact_id} is (or was) already in sequence '{row['name']}'")
    return found


def _active(workspace: Workspace, kind: str) -> list[dict[str, Any]]:
    return [
        {**r, "args": _json(r["trigger_args"], {})}
        for r in workspace.query(
            "SELECT id, trigger_args FROM sequences WHERE status = 'active' AND trigger_kind = ?", [kind]
        )
    ]


def on_changes(workspace: Workspace, changes: list[Change]) -> None:
    """Enrol the contacts a write made match a trigger; exit the erased ones.

    The active sequences are read once per write, and the write's matches are enrolled with
    one lookup (nobody twice) and one batched INSERT: a bulk import stays a bulk write.
    """
    wanted = ("contacts", "contact_tags", "form_submissions")
    changes = [c for c in changes if c.table in wanted and c.after is not None]
    if not changes:
        return
    gone = forget_erased(workspace, changes)  # the segments' hook does it too: whichever runs first
    if gone:
        for contact_id in gone:
            exit_contact(workspace, contact_id, "erased")
        return
    active: dict[str, list[dict[str, Any]]] = {}
    for r in workspace.query("SELECT id, trigger_kind, trigger_args FROM sequences WHERE status = 'active'"):
        active.setdefault(r["trigger_kind"], []).append({**r, "args": _json(r["trigger_args"], {})})
    if not active:
        return
    wanted_pairs: list[tuple[int, int]] = []
    for change in changes:
        after = change.after
        if change.table == "contacts" and change.changed("lifecycle_stage") and after.get("lifecycle_stage"):
            for seq in active.get("lifecycle_stage", []):
                if seq["args"].get("stage") == after["lifecycle_stage"]:
                    wanted_pairs.append((seq["id"], int(change.id)))
        elif change.table == "contact_tags" and change.action == "insert" and after.get("contact_id"):
            for seq in active.get("tag_added", []):
                if str(seq["args"].get("tag") or "").lower() == str(after.get("tag") or "").lower():
                    wanted_pairs.append((seq["id"], int(after["contact_id"])))
        elif (
            change.table == "form_submissions"
            and change.changed("confirmed_at")
            and after.get("confirmed_at")
            and after.get("contact_id")
            and active.get("form_submitted")
        ):
            slug = workspace.store.scalar("SELECT slug FROM forms WHERE id = ?", [after.get("form_id")])
            for seq in active["form_submitted"]:
                if seq["args"].get("form") in (None, "", slug):
                    wanted_pairs.append((seq["id"], int(after["contact_id"])))
    if wanted_pairs:
        enrol_many(workspace, wanted_pairs)


def exit_contact(workspace: Workspace, contact_id: int, reason: str) -> int:
    """End every active enrollment of the contact (ledger rows say why); how many."""
    rows = workspace.query(
        "SELECT id, sequence_id, current_step FROM sequence_enrollments WHERE contact_id = ? AND status = 'active'",
        [contact_id],
    )
    now = utcnow()
    for r in rows:
        workspace.store.update(
            "sequence_enrollments", r["id"], {"status": "exited", "exit_reason": reason, "claim": None}
        )
        ledger(workspace, r, contact_id, r["current_step"], "exit", "exited", reason, at=now)
    return len(rows)


def enrol_segment_entries(workspace: Workspace, now: str) -> int:
    """Enrol people who entered a trigger segment after the sequence was made (segment_members.added_at)."""
    total = 0
    for seq in _active(workspace, "enters_segment"):
        value = seq["args"].get("segment")
        segment_id = workspace.store.scalar(
            "SELECT id FROM segments WHERE id = ? OR name = ? COLLATE NOCASE", [value, value]
        )
        if segment_id is None:
            continue
        rows = workspace.query(
            "SELECT m.contact_id FROM segment_members m, sequences s WHERE s.id = :seq AND m.segment_id = :segment"
            " AND m.added_at >= s.created_at AND m.contact_id NOT IN"
            " (SELECT contact_id FROM sequence_enrollments WHERE sequence_id = :seq)",
            {"seq": seq["id"], "segment": segment_id},
        )
        for r in rows:
            total += enrol(workspace, seq["id"], r["contact_id"], now) is not None
    return total


def ledger(workspace, enrollment, contact_id, step, action, outcome, detail="", *, outbox_id=None, at=None) -> None:
    workspace.store.insert(
        "sequence_runs",
        {
            "enrollment_id": enrollment["id"],
            "sequence_id": enrollment["sequence_id"],
            "contact_id": contact_id,
            "step": step,
            "action": action,
            "outcome": outcome,
            "detail": (detail or "")[:500] or None,
            "outbox_id": outbox_id,
            "at": at or utcnow(),
        },
    )
