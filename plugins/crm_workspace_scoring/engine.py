"""Rescoring: every contact (or the ones a write touched) in a few set-based SQL statements.

One ``INSERT ... SELECT`` per enabled rule fills ``score_breakdown`` (fit rules: the
rule's points where the condition holds; engagement rules: the points of each event,
halved every ``half_life_days`` of its age, summed and capped), then one statement
writes ``lead_scores``: the breakdown's sum and the model's score (an SQL dot product
over the features, see features.py). No Python loop over contacts: a full rescore of
100,000 contacts takes seconds (benchmarks/bench_scoring.py).

``score_breakdown`` and ``lead_scores`` are derived data, like an index: they are
rebuilt with SQL inside a Store transaction, not written record by record through the
audit trail (the rules and models they come from are).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from crm_workspace.data.store import utcnow
from crm_workspace.errors import PermissionDenied

from . import conditions, features


def enabled_rules(store) -> list[dict]:
    return store.query("SELECT * FROM score_rules WHERE enabled = 1 ORDER BY id")


def active_model(store) -> dict | None:
    """The newest model row (its ``params`` parsed), or None."""
    rows = store.query("SELECT * FROM score_models ORDER BY version DESC LIMIT 1")
    if not rows:
        return None
    row = rows[0]
    row["params"] = json.loads(row["params"])
    row["features"] = json.loads(row["features"])
    return row


def _rule_statement(store, rule: dict, scope: str, scope_params: list, now: str) -> tuple[str, list] | None:
    if rule["kind"] == "fit":
        expr, params = conditions.fit_sql(store, rule["condition"])
        sql = (
            "INSERT INTO score_breakdown (contact_id, rule_id, points) SELECT c.id, ?, ? FROM contacts c"
            f" LEFT JOIN organizations o ON o.id = c.organization_id WHERE {scope.format('c.id')} AND {expr}"
        )
        return sql, [rule["id"], float(rule["points"]), *scope_params, *params]
    found = conditions.engagement_sql(store, rule["condition"], now)
    if found is None:
        return None  # counts marketing events and there are none yet
    table, time_col, where, params = found
    weight_params: list = []
    weight = "1.0"
    if rule.get("half_life_days"):
        weight = f'power(0.5, max(0.0, julianday(?) - julianday(e."{time_col}")) / ?)'
        weight_params = [now, float(rule["half_life_days"])]
    total = f"sum(? * {weight})"
    total_params = [float(rule["points"]), *weight_params]
    if rule.get("cap") is not None:
        total = f"min(?, {total})"
        total_params = [float(rule["cap"]), *total_params]
    sql = (
        f"INSERT INTO score_breakdown (contact_id, rule_id, points) SELECT e.contact_id, ?, round({total}, 2)"
        f" FROM {table} e JOIN contacts c ON c.id = e.contact_id WHERE {scope.format('e.contact_id')} AND {where}"
        " GROUP BY e.contact_id HAVING round(" + total + ", 2) != 0"
    )
    return sql, [rule["id"], *total_params, *scope_params, *params, *total_params]


def rescore(workspace, contact_ids: Iterable[int] | None = None, *, now: str | None = None) -> int:
    """Recompute rule points and model scores of ``contact_ids`` (None: every contact); returns how many.

    ``now`` is the moment decay is computed for (a test clock passes it; default the
    current time). Runs in one transaction: a failing rule leaves the old scores.
    """
    store = workspace.store
    now = now or utcnow()
    if contact_ids is None:
        scope, scope_params = "1", []
    else:
        ids = sorted({int(i) for i in contact_ids if i is not None})
        if not ids:
            return 0
        scope, scope_params = "{} IN (SELECT value FROM json_each(?))", [json.dumps(ids)]
    rules = enabled_rules(store)
    model = active_model(store)
    with store.transaction():
        conn = store.conn
        if contact_ids is None:
            conn.execute("DELETE FROM score_breakdown")
            conn.execute("DELETE FROM lead_scores")
        else:
            conn.execute(f"DELETE FROM score_breakdown WHERE {scope.format('contact_id')}", scope_params)
            conn.execute(f"DELETE FROM lead_scores WHERE {scope.format('contact_id')}", scope_params)
        for rule in rules:
            statement = _rule_statement(store, rule, scope, scope_params, now)
            if statement:
                conn.execute(*statement)
        points = "coalesce((SELECT round(sum(points), 2) FROM score_breakdown b WHERE b.contact_id = {}), 0)"
        insert = "INSERT INTO lead_scores (contact_id, rule_points, model_score, model_version, updated_at)"
        if model:  # the model's scores drive the insert: one row per contact in scope, no join to build
            base = f"SELECT c.id AS id, ? AS cutoff FROM contacts c WHERE {scope.format('c.id')}"
            model_sql, model_params = features.score_sql(store, model["params"], base, [now, *scope_params], now)
            cursor = conn.execute(
                f"{insert} SELECT m.id, {points.format('m.id')}, m.score, ?, ? FROM ({model_sql}) m",
                [model["version"], now, *model_params],
            )
        else:
            cursor = conn.execute(
                f"{insert} SELECT c.id, {points.format('c.id')}, NULL, NULL, ? FROM contacts c"
                f" WHERE {scope.format('c.id')}",
                [now, *scope_params],
            )
        return cursor.rowcount


def rescore_all(workspace, *, now: str | None = None) -> int:
    """Every contact, by someone who may change data (a viewer's session may not)."""
    if workspace.read_only:
        raise PermissionDenied(f"{workspace.user} may not rescore contacts (read-only)")
    return rescore(workspace, None, now=now)


def touched_contacts(store, changes) -> tuple[set[int], bool]:
    """The contacts a Store write may have changed the scores of, and whether everyone's may have changed."""
    ids: set[int] = set()
    everyone = False
    orgs: set[int] = set()
    for change in changes:
        rows = [r for r in (change.before, change.after) if r]
        if change.table == "contacts":
            ids.add(change.id)
        elif change.table in ("activities", "marketing_events"):
            ids.update(r.get("contact_id") for r in rows if r.get("contact_id"))
        elif change.table == "organizations" and change.action != "insert":
            orgs.add(change.id)
        elif change.table in ("score_rules", "score_models"):
            everyone = True
    if orgs and not everyone:
        marks = ", ".join("?" * len(orgs))
        ids.update(
            r["id"] for r in store.query(f"SELECT id FROM contacts WHERE organization_id IN ({marks})", sorted(orgs))
        )
    ids.discard(None)
    return ids, everyone


def stale_since(store) -> str | None:
    """When the oldest stored score was computed (None: nothing stored)."""
    return store.scalar("SELECT min(updated_at) FROM lead_scores")


def refresh_if_stale(workspace, now: str) -> int:
    """Rescore everyone when the oldest score is older than ``scoring_refresh_hours`` (or a contact has none).

    The scheduler's periodic work (``crm_tick``): engagement points decay with time, so
    stored scores age; a full rescore is a few set-based statements. Returns how many
    contacts were rescored (0: nothing was due).
    """
    from datetime import datetime, timedelta

    store = workspace.store
    hours = float(workspace.setting("scoring_refresh_hours", 6) or 6)
    oldest = stale_since(store)
    unscored = store.scalar(
        "SELECT EXISTS (SELECT 1 FROM contacts c WHERE c.id NOT IN (SELECT contact_id FROM lead_scores))"
    )
    if oldest and not unscored:
        due = datetime.fromisoformat(oldest.replace("Z", "+00:00")) + timedelta(hours=hours)
        if due > datetime.fromisoformat(now.replace("Z", "+00:00")):
            return 0
    if not oldest and not store.scalar("SELECT EXISTS (SELECT 1 FROM contacts)"):
        return 0
    return rescore(workspace, None, now=now)
