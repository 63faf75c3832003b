"""The model's features as SQL, shared by training and scoring, and the model as an SQL expression.

A feature is a small JSON object (``{"name": "source=website", "kind": "category",
"column": "source", "value": "website"}``); its SQL comes from this module, never from
the database: a stored model names features and carries numbers, so a row written by
someone with write access can change scores but cannot run code or SQL.

Every feature is computed per contact *as of a cutoff*: activities after it do not
count. Scoring uses now; training uses the moment a contact became a customer, so the
model never learns from what happened because of the sale (support calls after it).
"""

from __future__ import annotations

import math
from typing import Any

from crm_workspace.data.schema import ACTIVITY_KINDS

from . import conditions

#: Seniority and function words looked for in job titles (whole words, any case).
TITLE_WORDS = (
    "chief",
    "ceo",
    "cfo",
    "coo",
    "cto",
    "cio",
    "vp",
    "president",
    "head",
    "director",
    "manager",
    "lead",
    "senior",
    "founder",
    "owner",
    "partner",
    "analyst",
    "engineer",
    "assistant",
)
#: Columns a category feature may one-hot: contacts' source, the organization's industry and country
#: (SQL over the contact ``c`` and its organization ``o``, and their name in the per-contact row ``p``).
CATEGORY_COLUMNS = {
    "source": ('lower(c."source")', "p.source"),
    "organization.industry": ('lower(o."industry")', "p.industry"),
    "organization.country": ('lower(o."country")', "p.country"),
}
#: A title with spaces around and punctuation as spaces, so ``LIKE '% head %'`` finds whole words.
PADDED_TITLE = "(' ' || lower(replace(replace(replace(coalesce({}.title, ''), ',', ' '), '/', ' '), '-', ' ')) || ' ')"


def _builtins(events: bool) -> dict[str, str]:
    """Numeric features: name → SQL over p (the per-contact row of ``frame_sql``), a and m (counts).

    Counts are rates (per 30 days the contact was known before the cutoff, at least 30):
    a customer's history is cut where it converted, everyone else's is not, so raw counts
    would say "fewer activities, more likely to buy" for no other reason.
    """
    found = {
        "days_since_created": "ln(1 + max(0, p.age))",
        "has_email": "p.has_email",
        "has_phone": "p.has_phone",
        "has_title": "p.has_title",
        "org_size": "ln(1 + p.org_n)",
        "activities_last_30d": "ln(1 + coalesce(a.recent, 0))",
    }
    for kind in ACTIVITY_KINDS:
        found[f"{kind}s_per_month"] = f"ln(1 + 30.0 * coalesce(a.n_{kind}, 0) / p.known)"
    if events:
        found["email_opens_per_month"] = "ln(1 + 30.0 * coalesce(m.opens, 0) / p.known)"
        found["email_clicks_per_month"] = "ln(1 + 30.0 * coalesce(m.clicks, 0) / p.known)"
    return found


def feature_sql(feature: dict, events: bool) -> tuple[str, list]:
    """One feature's SQL over the per-contact row ``p`` (and counts ``a``, ``m``), with its parameters."""
    kind = feature.get("kind")
    if kind == "builtin":
        builtins = _builtins(True)
        name = feature.get("name")
        if name not in builtins:
            raise conditions.BadCondition(f"the model uses an unknown feature {name!r}: retrain it")
        if name.startswith("email_") and not events:
            return "0", []
        return builtins[name], []
    if kind == "category":
        column = CATEGORY_COLUMNS.get(feature.get("column"))
        if column is None or not isinstance(feature.get("value"), str):
            raise conditions.BadCondition(f"the model uses an unknown category {feature.get('column')!r}: retrain it")
        return f"coalesce({column[1]} = ?, 0)", [feature["value"].lower()]
    if kind == "title_word":
        word = feature.get("value")
        if word not in TITLE_WORDS:
            raise conditions.BadCondition(f"the model uses an unknown title word {word!r}: retrain it")
        return "(instr(p.title, ?) > 0)", [f" {word} "]
    raise conditions.BadCondition(f"the model uses an unknown kind of feature {kind!r}: retrain it")


def _inputs(store, base_sql: str, base_params: list, now: str, scope=None) -> tuple[str, str, list, bool]:
    """The WITH and FROM clauses every feature reads: ``p`` (one row per contact), ``a`` and ``m`` (counts).

    Each contact's inputs are computed once into ``p`` (MATERIALIZED: the features then
    read columns instead of re-parsing dates and titles once per feature). ``scope``
    (``(sql with {}, params)``, when every cutoff is ``now``: scoring) lets ``a`` and ``m``
    count in index order without ``p``, and the organizations' sizes be counted once per
    organization (``g``) instead of once per contact.
    """
    events = conditions.event_columns(store)
    kinds = ", ".join(f"sum(e.kind = '{k}') AS n_{k}" for k in ACTIVITY_KINDS)  # fixed names, no user text
    categories = ", ".join(f"{sql} AS {name.rpartition('.')[2]}" for name, (sql, _) in CATEGORY_COLUMNS.items())
    org_n = "(SELECT count(*) FROM contacts x WHERE x.organization_id = c.organization_id)"
    ctes, head, org_join = [], [], ""
    if scope is not None:
        scope_sql, scope_params = scope
        ctes.append(
            "g AS MATERIALIZED (SELECT x.organization_id AS org, count(*) AS n FROM contacts x"
            f" WHERE x.organization_id IN (SELECT c.organization_id FROM contacts c WHERE {scope_sql.format('c.id')})"
            " GROUP BY x.organization_id)"
        )
        head = list(scope_params)
        org_n, org_join = "coalesce(g.n, 0)", " LEFT JOIN g ON g.org = c.organization_id"
    ctes += [
        f"base AS ({base_sql})",
        "p AS MATERIALIZED (SELECT base.id, base.cutoff,"
        + (" strftime('%Y-%m-%dT%H:%M:%SZ', base.cutoff, '-30 days') AS since," if scope is None else "")
        + " max(30.0, coalesce(julianday(base.cutoff) - julianday(c.created_at), 30.0)) AS known,"
        " coalesce(julianday(?) - julianday(c.created_at), 0) AS age,"
        f" {PADDED_TITLE.format('c')} AS title, {categories},"
        " (c.email IS NOT NULL AND c.email != '') AS has_email, (c.phone IS NOT NULL AND c.phone != '') AS has_phone,"
        f" (c.title IS NOT NULL AND c.title != '') AS has_title, {org_n} AS org_n"
        f" FROM base JOIN contacts c ON c.id = base.id LEFT JOIN organizations o ON o.id = c.organization_id{org_join})",
        # CROSS JOIN keeps p outside: a few contacts seek their own activities instead of scanning all
        f"a AS (SELECT p.id AS id, {kinds}, sum(e.occurred_at >= p.since) AS recent"
        " FROM p CROSS JOIN activities e ON e.contact_id = p.id AND e.occurred_at < p.cutoff GROUP BY p.id)",
    ]
    if scope is not None:  # scoring: one cutoff (now) for everyone, so count in index order without p
        ctes[-1] = (
            f"a AS (SELECT e.contact_id AS id, {kinds},"
            " sum(e.occurred_at >= strftime('%Y-%m-%dT%H:%M:%SZ', ?, '-30 days')) AS recent FROM activities e"
            f" WHERE {scope_sql.format('e.contact_id')} AND e.occurred_at < ? GROUP BY e.contact_id)"
        )
        tail = [now, *scope_params, now]
    else:
        tail = []
    joins = "LEFT JOIN a ON a.id = p.id"
    if events:
        kind_col, at_col = events
        counts = f"sum(e.\"{kind_col}\" = 'open') AS opens, sum(e.\"{kind_col}\" = 'click') AS clicks"
        if scope is None:
            ctes.append(
                f"m AS (SELECT e.contact_id AS id, {counts} FROM p JOIN marketing_events e"
                f' ON e.contact_id = p.id AND e."{at_col}" < p.cutoff AND coalesce(e.machine, 0) = 0'
                " GROUP BY e.contact_id)"
            )
        else:  # in index order over the contacts in scope, like ``a``: no probe per contact, no sort
            ctes.append(
                f"m AS (SELECT e.contact_id AS id, {counts} FROM marketing_events e"
                f' WHERE {scope_sql.format("e.contact_id")} AND e."{at_col}" < ? AND coalesce(e.machine, 0) = 0'
                " GROUP BY e.contact_id)"
            )
            tail += [*scope_params, now]
        joins += " LEFT JOIN m ON m.id = p.id"
    return f"WITH {', '.join(ctes)}", f"FROM p {joins}", [*head, *base_params, now, *tail], bool(events)


def frame_sql(store, features: list[dict], base_sql: str, base_params: list, now: str) -> tuple[str, list]:
    """``SELECT id, f0, f1, ...`` for the contacts of ``base_sql`` (columns ``id``, ``cutoff``): what training reads."""
    with_sql, from_sql, params, events = _inputs(store, base_sql, base_params, now)
    columns = []
    for i, feature in enumerate(features):
        sql, values = feature_sql(feature, events)
        columns.append(f"CAST({sql} AS REAL) AS f{i}")
        params.extend(values)
    return f"{with_sql} SELECT {', '.join(['p.id AS id', *columns])} {from_sql}", params


def candidates(store, rows: int) -> list[dict]:
    """Every feature worth trying on this workspace: the numeric ones, and categories and title words seen often."""
    events = conditions.event_columns(store) is not None
    found = [{"name": name, "kind": "builtin"} for name in _builtins(events)]
    floor = max(5, rows // 100)
    for column, (sql, _) in CATEGORY_COLUMNS.items():
        table = "contacts c" if column == "source" else "contacts c JOIN organizations o ON o.id = c.organization_id"
        for row in store.query(
            f"SELECT lower({sql}) AS v, count(*) AS n FROM {table} WHERE {sql} IS NOT NULL AND {sql} != ''"
            " GROUP BY 1 HAVING n >= ? ORDER BY n DESC LIMIT 12",
            [floor],
        ):
            found.append(
                {
                    "name": f"{column.rpartition('.')[2]}={row['v']}",
                    "kind": "category",
                    "column": column,
                    "value": row["v"],
                }
            )
    counts = store.conn.execute(  # one scan for every word; the words are this module's, not anyone's input
        "SELECT "
        + ", ".join(f"sum(instr(t, ' {w} ') > 0)" for w in TITLE_WORDS)
        + f" FROM (SELECT {PADDED_TITLE.format('c')} AS t FROM contacts c)"
    ).fetchone()
    for word, n in zip(TITLE_WORDS, counts, strict=True):
        if (n or 0) >= floor:
            found.append({"name": f"title~{word}", "kind": "title_word", "value": word})
    return found


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise conditions.BadCondition(f"the stored model's {what} is not a finite number: retrain it")
    return float(value)


def check_params(params: Any) -> dict:
    """A stored model's parameters, checked: known features, finite numbers, positive scales."""
    if not isinstance(params, dict) or not isinstance(params.get("features"), list):
        raise conditions.BadCondition("the stored model has no feature list: retrain it")
    _number(params.get("intercept"), "intercept")
    for feature in params["features"]:
        if not isinstance(feature, dict):
            raise conditions.BadCondition("the stored model has a malformed feature: retrain it")
        feature_sql(feature, True)
        for key in ("mean", "coef"):
            _number(feature.get(key), f"{feature.get('name')} {key}")
        if _number(feature.get("scale"), f"{feature.get('name')} scale") <= 0:
            raise conditions.BadCondition(
                f"the stored model's {feature.get('name')} scale must be positive: retrain it"
            )
    return params


def score_sql(store, params: dict, base_sql: str, base_params: list, now: str, scope=None) -> tuple[str, list]:
    """``SELECT id, score`` (0–100, the model's probability in percent) for the contacts of ``base_sql``.

    The standardised dot product is folded into one expression: each feature's weight is
    ``coef / scale`` and the means move into the intercept; the one-hot categories of a
    column become one ``CASE`` lookup. The numbers are checked floats, so ``repr`` of each
    is a number literal and nothing else; the feature SQL comes from this module.
    """
    params = check_params(params)
    with_sql, from_sql, values, events = _inputs(store, base_sql, base_params, now, scope)
    intercept = float(params["intercept"])
    terms: list[str] = []
    categories: dict[str, dict[str, float]] = {}
    for f in params["features"]:
        weight = float(f["coef"]) / float(f["scale"])
        intercept -= weight * float(f["mean"])
        if f["kind"] == "category":
            found = categories.setdefault(f["column"], {})
            found[f["value"].lower()] = found.get(f["value"].lower(), 0.0) + weight
            continue
        sql, more = feature_sql(f, events)
        terms.append(f"{weight!r} * ({sql})")
        values.extend(more)
    for column, weights in categories.items():
        whens = " ".join(f"WHEN ? THEN {w!r}" for w in weights.values())
        terms.append(f"(CASE {CATEGORY_COLUMNS[column][1]} {whens} ELSE 0.0 END)")
        values.extend(weights)
    z = " + ".join([repr(intercept), *terms])
    sql = (
        f"{with_sql} SELECT p.id AS id, round(100.0 / (1.0 + exp(-max(-30.0, min(30.0, {z})))), 1) AS score {from_sql}"
    )
    return sql, values
