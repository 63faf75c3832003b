"""Rescoring: every contact (or the ones a write touched) in one set-based pass.

One SELECT computes every enabled rule's points per contact as a column (fit rules:
``CASE WHEN condition``; engagement rules: a grouped aggregate of the counted events,
each worth the rule's points halved every ``half_life_days`` of its age, capped), into a
temporary table; one upsert writes ``lead_scores`` (the sum, and the model's SQL dot
product, see features.py), touching only rows whose scores changed. No Python loop over
contacts (benchmarks/bench_scoring.py). A contact's breakdown by rule is the same SELECT
for that contact, computed on demand (``breakdown``): nothing to keep in step.

``lead_scores`` is derived data, like an index: rebuilt with SQL inside a Store
transaction, not written record by record through the audit trail (the rules and
models it comes from are).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable

from crm_workspace.data.store import utcnow
from crm_workspace.errors import PermissionDenied
from crm_workspace.services.privacy import ERASED_IDS, erased, erased_in, not_erased

from . import conditions, features

#: More contacts than this in one write are queued for the next tick instead of rescored inside it.
INLINE_LIMIT = 2_000


def queue(workspace, contact_ids: Iterable[int]) -> None:
    """Remember contacts to rescore at the next tick (``score_dirty``); set-based, any number."""
    ids = sorted({int(i) for i in contact_ids if i is not None})
    with workspace.store.transaction():
        workspace.store.conn.execute(
            "INSERT OR IGNORE INTO score_dirty (contact_id) SELECT value FROM json_each(?)", [json.dumps(ids)]
        )


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


def _scope(contact_ids: Iterable[int] | None) -> tuple[str, list] | None:
    """``("{} IN (...)", params)`` for some contacts, ``("1", [])`` for all, None for none."""
    if contact_ids is None:
        return "1", []
    ids = sorted({int(i) for i in contact_ids if i is not None})
    return ("{} IN (SELECT value FROM json_each(?))", [json.dumps(ids)]) if ids else None


def points_sql(store, rules: list[dict], scope: str, scope_params: list, now: str) -> tuple[str, list]:
    """``SELECT id, r<rule id>, ...``: each rule's points for each contact in scope, as of ``now``.

    Engagement rules over the same table share one grouped scan of it (a CASE per rule).
    """
    columns, select_params = [], []
    scans: dict[str, dict] = {}  # table → its aggregates, their params, the rows any rule counts
    for rule in rules:
        col = f"r{int(rule['id'])}"
        if rule["kind"] == "fit":
            expr, params = conditions.fit_sql(store, rule["condition"])
            columns.append(f"CASE WHEN {expr} THEN ? ELSE 0.0 END AS {col}")
            select_params += [*params, float(rule["points"])]
            continue
        found = conditions.engagement_sql(store, rule["condition"], now)
        if found is None:  # counts marketing events and there are none yet
            columns.append(f"0.0 AS {col}")
            continue
        table, time_col, where, params = found
        weight, weight_params = "1.0", []
        if rule.get("half_life_days"):
            weight = f'power(0.5, max(0.0, julianday(?) - julianday(e."{time_col}")) / ?)'
            weight_params = [now, float(rule["half_life_days"])]
        total = f"sum(CASE WHEN {where} THEN ? * {weight} ELSE 0.0 END)"
        total_params = [*params, float(rule["points"]), *weight_params]
        if rule.get("cap") is not None:
            total, total_params = f"min(?, {total})", [float(rule["cap"]), *total_params]
        scan = scans.setdefault(table, {"aggs": [], "agg_params": [], "wheres": [], "where_params": []})
        scan["aggs"].append(f"round({total}, 2) AS {col}")
        scan["agg_params"] += total_params
        scan["wheres"].append(f"({where})")
        scan["where_params"] += params
        columns.append(f"coalesce(g_{table}.{col}, 0.0) AS {col}")
    joins, join_params = [], []
    for table, scan in scans.items():
        joins.append(
            f"LEFT JOIN (SELECT e.contact_id AS id, {', '.join(scan['aggs'])} FROM {table} e"
            f" WHERE {scope.format('e.contact_id')} AND ({' OR '.join(scan['wheres'])}) GROUP BY e.contact_id)"
            f" g_{table} ON g_{table}.id = c.id"
        )
        join_params += [*scan["agg_params"], *scope_params, *scan["where_params"]]
    sql = (
        f"SELECT c.id AS id{''.join(', ' + c for c in columns)} FROM contacts c"
        f" LEFT JOIN organizations o ON o.id = c.organization_id {' '.join(joins)} WHERE {scope.format('c.id')}"
        f" AND {not_erased('c.id')}"
    )
    return sql, [*select_params, *join_params, *scope_params]


#: A full rescore writes this many contacts per transaction, so other writers wait at most one batch.
BATCH = 20_000


def rescore(workspace, contact_ids: Iterable[int] | None = None, *, now: str | None = None) -> int:
    """Recompute rule points and model scores of ``contact_ids`` (None: every contact); returns how many.

    ``now`` is the moment decay is computed for (a test clock passes it; default the
    current time). ``lead_scores.updated_at`` moves only where a score changed. Some
    contacts: one transaction. Everyone: one transaction per ``BATCH`` contacts by id
    range (inside a caller's transaction, such as a rule's write, they nest in it), then
    the run is recorded in ``score_runs`` with what each rule gave (``score_rule_stats``).
    """
    started = time.perf_counter()
    store = workspace.store
    now = now or utcnow()
    rules = enabled_rules(store)
    model = active_model(store)
    if contact_ids is not None:
        found = _scope(contact_ids)
        if found is None:
            return 0
        with store.transaction():
            _pass(store, rules, model, found, now, None)
        return len(json.loads(found[1][0]))
    totals = [[0, 0.0] for _ in rules]
    count = 0
    bounds = store.query("SELECT min(id) AS lo, max(id) AS hi FROM contacts")[0]
    if bounds["lo"] is not None:
        for lo in range(int(bounds["lo"]), int(bounds["hi"]) + 1, BATCH):
            with store.transaction():
                count += _pass(store, rules, model, ("{} BETWEEN ? AND ?", [lo, lo + BATCH - 1]), now, totals)
    with store.transaction():
        conn = store.conn
        conn.execute(
            f"DELETE FROM lead_scores WHERE contact_id NOT IN (SELECT id FROM contacts) OR contact_id IN ({ERASED_IDS})"
        )
        conn.execute("DELETE FROM score_dirty")
        conn.execute("DELETE FROM score_rule_stats")
        conn.executemany(
            "INSERT INTO score_rule_stats (rule_id, contacts, points, computed_at) VALUES (?, ?, ?, ?)",
            [(r["id"], n, round(points, 2), now) for r, (n, points) in zip(rules, totals, strict=True)],
        )
        conn.execute(
            "INSERT INTO score_runs (at, contacts, seconds) VALUES (?, ?, ?)",
            [now, count, round(time.perf_counter() - started, 3)],
        )
    return count


def _pass(store, rules: list[dict], model: dict | None, found: tuple[str, list], now: str, totals) -> int:
    """Score the contacts in scope and upsert ``lead_scores``; with ``totals``, add what each rule gave."""
    scope, scope_params = found
    conn = store.conn
    sql, params = points_sql(store, rules, scope, scope_params, now)
    if totals is not None:  # a temporary table: the per-rule statistics read it again
        conn.execute("DROP TABLE IF EXISTS temp.score_pass")
        conn.execute(f"CREATE TEMP TABLE score_pass AS {sql}", params)
        cte, cte_params, passed = "", [], "temp.score_pass"
    else:  # a few contacts: a CTE (creating a table would make every prepared statement re-prepare)
        cte, cte_params, passed = f"WITH score_pass AS MATERIALIZED ({sql}) ", params, "score_pass"
    cols = [f"r{int(r['id'])}" for r in rules]
    total = f"round({' + '.join('p.' + c for c in cols) or '0.0'}, 2)"
    if model:  # the model's scores drive the upsert: one row per contact in scope
        base = f"SELECT c.id AS id, ? AS cutoff FROM contacts c WHERE {scope.format('c.id')} AND {not_erased('c.id')}"
        model_sql, model_params = features.score_sql(store, model["params"], base, [now, *scope_params], now, found)
        source = f"SELECT m.id, {total}, m.score, ?, ? FROM ({model_sql}) m JOIN {passed} p ON p.id = m.id"
        source_params = [model["version"], now, *model_params]
    else:
        source, source_params = f"SELECT p.id, {total}, NULL, NULL, ? FROM {passed} p", [now]
    conn.execute(
        f"{cte}INSERT INTO lead_scores (contact_id, rule_points, model_score, model_version, updated_at)"
        f" {source} WHERE true ON CONFLICT(contact_id) DO UPDATE SET rule_points = excluded.rule_points,"
        " model_score = excluded.model_score, model_version = excluded.model_version,"
        " updated_at = excluded.updated_at WHERE lead_scores.rule_points IS NOT excluded.rule_points"
        " OR lead_scores.model_score IS NOT excluded.model_score"
        " OR lead_scores.model_version IS NOT excluded.model_version",
        [*cte_params, *source_params],
    )
    conn.execute(
        f"DELETE FROM lead_scores WHERE {scope.format('contact_id')} AND (contact_id NOT IN (SELECT id FROM contacts)"
        f" OR contact_id IN ({ERASED_IDS}))",
        scope_params,
    )
    if totals is None:
        return 0
    stats = conn.execute(
        "SELECT count(*)" + "".join(f", sum({c} != 0), coalesce(sum({c}), 0)" for c in cols) + " FROM temp.score_pass"
    ).fetchone()
    for i, entry in enumerate(totals):
        entry[0] += stats[1 + 2 * i] or 0
        entry[1] += stats[2 + 2 * i] or 0.0
    conn.execute("DROP TABLE temp.score_pass")
    return stats[0]


def breakdown(workspace, contact_id: int) -> list[dict]:
    """One contact's points by enabled rule (non-zero ones), as of when its stored score was computed."""
    store = workspace.store
    as_of = store.scalar(
        "SELECT max(coalesce((SELECT updated_at FROM lead_scores WHERE contact_id = ?), ''),"
        " coalesce((SELECT max(at) FROM score_runs), ''))",
        [int(contact_id)],
    )
    rules = enabled_rules(store)
    if erased(workspace, [contact_id]):
        return []  # an erased person has no score
    scope, scope_params = _scope([contact_id])
    sql, params = points_sql(store, rules, scope, scope_params, as_of or utcnow())
    rows = store.conn.execute(sql, params).fetchall()
    if not rows:
        return []
    values = rows[0][1:]
    return [{"rule_id": r["id"], "points": round(v, 2)} for r, v in zip(rules, values, strict=True) if v]


def rescore_all(workspace, *, now: str | None = None) -> int:
    """Every contact, by someone who may change data (a viewer's session may not)."""
    if workspace.read_only:
        raise PermissionDenied(f"{workspace.user} may not rescore contacts (read-only)")
    return rescore(workspace, None, now=now)


def touched_contacts(store, changes, gone: set[int] = frozenset()) -> tuple[set[int], bool]:
    """The contacts a Store write may have changed the scores of, and whether everyone's may have changed.

    ``gone``: the contacts this write erased (``forget_erased``), never scored again.
    """
    ids: set[int] = set()
    everyone = False
    orgs: set[int] = set()
    for change in changes:
        rows = [r for r in (change.before, change.after) if r]
        if change.table == "contacts" and change.id in gone:
            continue
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


def forget_erased(workspace, changes) -> set[int]:
    """Drop any score or queued rescore of the contacts these changes erased (``privacy.erased_in``); their ids."""
    ids = erased_in(workspace, changes)
    if not ids:
        return ids
    conn, marks = workspace.store.conn, json.dumps(sorted(ids))
    conn.execute("DELETE FROM lead_scores WHERE contact_id IN (SELECT value FROM json_each(?))", [marks])
    conn.execute("DELETE FROM score_dirty WHERE contact_id IN (SELECT value FROM json_each(?))", [marks])
    return ids


def last_run(store) -> str | None:
    """When everyone was last rescored (None: never)."""
    return store.scalar("SELECT max(at) FROM score_runs")


def refresh_if_stale(workspace, now: str) -> int:
    """The scheduler's periodic work (``crm_tick``); returns how many contacts were rescored (0: nothing due).

    Everyone, when the last full rescore is older than ``scoring_refresh_hours`` or a
    contact has no score (engagement points decay with time, so stored scores age);
    else the contacts a large write queued in ``score_dirty``.
    """
    from datetime import datetime, timedelta

    store = workspace.store
    hours = float(workspace.setting("scoring_refresh_hours", 6) or 6)
    last = last_run(store)
    unscored = store.scalar(
        "SELECT EXISTS (SELECT 1 FROM contacts c WHERE c.id NOT IN (SELECT contact_id FROM lead_scores)"
        f" AND {not_erased('c.id')})"
    )
    due = (
        unscored
        or last is None
        or datetime.fromisoformat(last.replace("Z", "+00:00")) + timedelta(hours=hours)
        <= datetime.fromisoformat(now.replace("Z", "+00:00"))
    )
    if due:
        return rescore(workspace, None, now=now)
    dirty = [r["contact_id"] for r in store.query("SELECT contact_id FROM score_dirty")]
    if not dirty:
        return 0
    with store.transaction():
        n = rescore(workspace, dirty, now=now)
        store.conn.execute(
            "DELETE FROM score_dirty WHERE contact_id IN (SELECT value FROM json_each(?))", [json.dumps(dirty)]
        )
    return n
