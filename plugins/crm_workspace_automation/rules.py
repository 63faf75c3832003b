"""Workflow rules: saved without code, run in the write's transaction or by the scheduler.

Field-change rules (trigger ``create``, ``update`` or ``change`` = either) run inside
``crm_record_changed``, so their writes commit or roll back with the write that caused
them. Each action runs in its own savepoint: a failing action is rolled back alone,
recorded in ``rule_runs`` and on the record's timeline, and the original write stands.
Time rules (trigger ``time``, a "no activity for days" condition) are found by one SQL
query per rule in ``crm_tick`` / ``crm rules run``, once per quiet spell of a record.

Loops: a rule's writes carry ``store.context(rule=id, rule_chain=[..., id])``. A rule never
runs on a change its own actions caused (directly or through other rules), and no rule runs
on a change ``MAX_DEPTH`` rules deep.
"""

from __future__ import annotations

import contextlib
import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from crm_workspace.data.store import utcnow
from crm_workspace.errors import CrmError, NotFound, ValidationError

from . import actions as acts
from . import conditions as conds
from .access import system
from .schema import OWN_TABLES

TRIGGERS = ("create", "update", "change", "time")
MAX_DEPTH = 3
TIME_BATCH = 500
#: Timeline notes a rule writes start with this; "no activity" does not count them.
NOTE_PREFIX = "Rule run: "


def _parse(rule: dict) -> dict:
    rule = dict(rule)
    for key in ("conditions", "actions"):
        try:
            rule[key] = json.loads(rule.get(key) or "[]")
        except ValueError:
            rule[key] = []
    return rule


def rules(ws, *, enabled_only: bool = False) -> list[dict]:
    where = "WHERE enabled = 1" if enabled_only else ""
    return [_parse(r) for r in ws.store.query(f"SELECT * FROM workflow_rules {where} ORDER BY id")]


def get(ws, rule_id: int) -> dict:
    rows = ws.store.query("SELECT * FROM workflow_rules WHERE id = ?", [int(rule_id)])
    if not rows:
        raise NotFound(f"no workflow rule #{rule_id}")
    return _parse(rows[0])


# ------------------------------------------------------------------ editing
def _columns(ws, table: str) -> dict[str, str]:
    try:
        return ws.store.columns(table)
    except NotFound:
        return {}


def check(ws, spec: dict) -> dict:
    """The rule ``spec`` as stored, or ``ValidationError`` naming every problem."""
    errors: dict[str, str] = {}
    name = str(spec.get("name") or "").strip()
    table = str(spec.get("table") or spec.get("table_name") or "").strip()
    trigger = str(spec.get("trigger") or "").strip().lower()
    if not name:
        errors["name"] = "give the rule a name"
    columns = _columns(ws, table) if table and table not in OWN_TABLES else {}
    if not columns:
        errors["table"] = f"no table {table!r} to watch" if table else "name the table the rule watches"
    if trigger not in TRIGGERS:
        errors["trigger"] = f"must be one of {', '.join(TRIGGERS)}"
    conditions, actions = spec.get("conditions", []), spec.get("actions", [])
    for key, value in (("conditions", conditions), ("actions", actions)):
        if isinstance(value, str):
            try:
                value = json.loads(value or "[]")
            except ValueError as error:
                errors[key] = f"not JSON: {error}"
                value = []
            conditions, actions = (value, actions) if key == "conditions" else (conditions, value)
    if columns and trigger in TRIGGERS:
        errors.update(conds.problems(conditions, columns, table, trigger))
        errors.update(acts.problems(actions, columns, table, ws))
    if errors:
        raise ValidationError("workflow_rules", errors)
    return {
        "name": name,
        "table_name": table,
        "trigger": trigger,
        "conditions": json.dumps(conditions),
        "actions": json.dumps(actions),
        "enabled": 0 if spec.get("enabled") in (False, 0, "0", "false") else 1,
    }


def save(ws, spec: dict, rule_id: int | None = None, *, version: int | None = None) -> dict:
    """Add a rule, or replace rule ``rule_id`` (against the ``version`` the editor saw)."""
    record = check(ws, spec)
    if rule_id is None:
        return _parse(ws.store.insert("workflow_rules", {**record, "owner": ws.user}))
    record["disabled_reason"] = None
    return _parse(ws.store.update("workflow_rules", int(rule_id), record, version=version))


def set_enabled(ws, rule_id: int, enabled: bool) -> dict:
    rule = get(ws, rule_id)
    if enabled:
        check(ws, rule)  # a rule disabled for a removed field stays off until it is fixed
        return _parse(ws.store.update("workflow_rules", rule["id"], {"enabled": 1, "disabled_reason": None}))
    return _parse(
        ws.store.update("workflow_rules", rule["id"], {"enabled": 0, "disabled_reason": f"disabled by {ws.user}"})
    )


def disable(ws, rule: dict, reason: str) -> None:
    with ws.store.context(rule=rule["id"]):
        ws.store.update("workflow_rules", rule["id"], {"enabled": 0, "disabled_reason": reason})


def broken(ws, rule: dict) -> str | None:
    """Why an enabled rule cannot run any more (its table or a field it names is gone), or None."""
    columns = _columns(ws, rule["table_name"])
    if not columns:
        return f"disabled at {utcnow()}: the table {rule['table_name']} no longer exists"
    missing = conds.missing_fields(rule["conditions"], columns)
    missing += [
        a.get("field") for a in rule["actions"] if a.get("type") == "set_field" and a.get("field") not in columns
    ]
    if missing:
        return f"disabled at {utcnow()}: {rule['table_name']} has no field {', '.join(map(repr, missing))} any more"
    return None


def check_all(ws) -> list[dict]:
    """Disable every enabled rule that names a removed table or field; returns them."""
    disabled = []
    for rule in rules(ws, enabled_only=True):
        reason = broken(ws, rule)
        if reason:
            disable(system(ws), rule, reason)
            disabled.append({**rule, "disabled_reason": reason})
    return disabled


# ------------------------------------------------------------------ running
def execute(ws, rule: dict, table: str, record: dict, *, trigger: str, chain: list, at: str, now: str | None = None):
    """Run ``rule``'s actions on ``record``, each in a savepoint; log the run; returns its status."""
    store = ws.store
    done, status = [], "ok"
    with store.context(rule=rule["id"], rule_chain=[*chain, rule["id"]]):
        for action in rule["actions"]:
            kind = action.get("type")
            try:
                with _savepoint(store):  # a failing action leaves nothing behind
                    done.append(acts.RUN[kind](ws, rule, table, record, action, now))
            except Exception as error:  # any action's failure is reported; the write that triggered it stands
                status = "failed"
                message = str(error) if isinstance(error, CrmError) else f"{type(error).__name__}: {error}"
                done.append(f"{kind} failed: {message}")
        _log(ws, rule, table, record, trigger, status, done, at)
    return status


_DEPTH = threading.local()


@contextlib.contextmanager
def _savepoint(store):
    """A savepoint around one action, also inside a bulk write (whose nested transactions open none).

    Rule actions run inside the triggering write's transaction (``crm_record_changed``) or in
    the scheduler's; a failure rolls back to the savepoint, so the action leaves nothing
    behind and the surrounding write carries on.
    """
    with store.transaction():
        depth = getattr(_DEPTH, "n", 0) + 1
        _DEPTH.n = depth
        name = f"crm_rule_action_{depth}"
        store.conn.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            store.conn.execute(f"ROLLBACK TO {name}")
            store.conn.execute(f"RELEASE {name}")
            raise
        else:
            store.conn.execute(f"RELEASE {name}")
        finally:
            _DEPTH.n = depth - 1


def _log(ws, rule: dict, table: str, record: dict, trigger: str, status: str, done: list[str], at: str) -> None:
    store = ws.store
    detail = "; ".join(done)
    store.insert_many(
        "rule_runs",
        [
            {
                "rule_id": rule["id"],
                "at": at,
                "table_name": table,
                "record_id": str(record.get("id")),
                "trigger": trigger,
                "status": status,
                "detail": detail,
                "user": ws.user,
            }
        ],
        audit=False,
        events=False,
        validate=False,
    )
    link = acts.links(ws, table, record)
    if link:  # the record's timeline says what ran (no events: a note never triggers rules or webhooks)
        note = {
            "kind": "note",
            "subject": f"{NOTE_PREFIX}{rule['name']} ({status})"[:200],
            "body": detail,
            "occurred_at": at,
            "owner": record.get("owner"),
            **link,
        }
        store.insert_many("activities", [note], events=False, validate=False)


def on_changes(ws, changes) -> None:
    """``crm_record_changed``: run the matching field-change rules on each change."""
    relevant = [c for c in changes if c.after is not None and c.table not in OWN_TABLES]
    if not relevant:
        return
    tables = {c.table for c in relevant}
    # read on every write, so straight from this thread's connection (cheaper than store.query)
    found = ws.store.conn.execute(
        "SELECT id, table_name FROM workflow_rules WHERE enabled = 1 AND trigger != 'time' ORDER BY id"
    ).fetchall()
    ids = [rule_id for rule_id, table in found if table in tables]
    if not ids:
        return
    active = ws.store.query(f"SELECT * FROM workflow_rules WHERE id IN ({', '.join('?' * len(ids))}) ORDER BY id", ids)
    by_table: dict[str, list[dict]] = {}
    for rule in map(_parse, active):
        by_table.setdefault(rule["table_name"], []).append(rule)
    for change in relevant:
        chain = list((change.context or {}).get("rule_chain") or [])
        if len(chain) >= MAX_DEPTH:
            continue
        trigger = "create" if change.action == "insert" else "update"
        for rule in by_table.get(change.table, ()):
            if rule["trigger"] not in (trigger, "change") or rule["id"] in chain:
                continue
            reason = broken(ws, rule)
            if reason:
                disable(ws, rule, reason)
                continue
            if conds.all_hold(rule["conditions"], change.after, change.before if change.action == "update" else None):
                execute(ws, rule, change.table, change.after, trigger=trigger, chain=chain, at=change.at)


def _cutoff(now: str, days: int) -> str:
    moment = datetime.fromisoformat(now.replace("Z", "+00:00")) - timedelta(days=days)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def quiet_records(ws, rule: dict, now: str, limit: int = TIME_BATCH) -> list[dict]:
    """Records of a time rule's table matching its conditions, quiet for its days, not yet run on this spell."""
    table = rule["table_name"]
    link = conds.TIMELINE[table]
    params: dict[str, Any] = {"rule": rule["id"], "limit": int(limit), "prefix": NOTE_PREFIX + "%"}
    where, days = conds.to_sql(rule["conditions"], "t", params)
    params["cutoff"] = _cutoff(now, days or 0)
    return ws.store.query(
        f"""
        SELECT * FROM (
            SELECT t.*, coalesce((
                SELECT max(coalesce(a.occurred_at, a.created_at)) FROM activities a
                WHERE a.[{link}] = t.id AND NOT (a.kind = 'note' AND a.subject LIKE :prefix)
            ), t.created_at) AS _quiet_since
            FROM [{table}] t WHERE {where}
        ) q
        WHERE q._quiet_since < :cutoff
          AND NOT EXISTS (SELECT 1 FROM rule_runs r WHERE r.rule_id = :rule
                          AND r.record_id = CAST(q.id AS TEXT) AND r.at >= q._quiet_since)
        ORDER BY q.id LIMIT :limit
        """,
        params,
    )


def run_time_rules(workspace, now: str | None = None) -> dict[str, int]:
    """Every enabled time rule over its quiet records (``now``: a test clock); counts by status."""
    ws = system(workspace)
    now = now or utcnow()
    counts = {"ok": 0, "failed": 0, "disabled": len(check_all(ws))}
    for rule in rules(ws, enabled_only=True):
        if rule["trigger"] != "time" or rule["table_name"] not in conds.TIMELINE:
            continue
        for record in quiet_records(ws, rule, now):
            record.pop("_quiet_since", None)
            with ws.store.transaction():
                status = execute(ws, rule, rule["table_name"], record, trigger="time", chain=[], at=now, now=now)
            counts[status] += 1
    return counts


RUN_COLUMNS = ("id", "rule_id", "name", "at", "table_name", "record_id", "trigger", "status", "detail", "user")


def runs(ws, rule_id: int | None = None, limit: int = 50) -> list[dict]:
    where, params = "", [int(limit)]
    if rule_id is not None:
        where = "WHERE r.rule_id = ?"
        params.insert(0, int(rule_id))
    return ws.store.query(
        "SELECT r.id, r.rule_id, w.name, r.at, r.table_name, r.record_id, r.trigger, r.status, r.detail, r.user"
        f" FROM rule_runs r LEFT JOIN workflow_rules w ON w.id = r.rule_id {where} ORDER BY r.id DESC LIMIT ?",
        params,
    )
