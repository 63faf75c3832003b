"""The SQL of the relationship map: graph rows, search, the side panel's record, the analysis lists.

Every query the plugin's pages need lives here (or in ``org_chart``/``editing``), so views
hold no SQL text. Names are built in SQL the same way everywhere: first and last name
trimmed, organizations by their name.
"""

from __future__ import annotations

import heapq
import sqlite3
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crm_workspace import NotFound

if TYPE_CHECKING:
    from crm_workspace import Workspace

NODE_TABLES = ("contacts", "organizations")
CONTACT_NAME = "trim(coalesce(first_name,'') || ' ' || coalesce(last_name,''))"


def node_key(table: str, row_id: int) -> str:
    """``("contacts", 12)`` -> ``"contacts:12"``: how the map names a record."""
    return f"{table}:{int(row_id)}"


def parse_node(node: str) -> tuple[str, int]:
    """``"contacts:12"`` -> ``("contacts", 12)``; NotFound for anything else."""
    table, _, row_id = str(node).partition(":")
    if table not in NODE_TABLES or not row_id.isdigit():
        raise NotFound(f"'{node}' is not a node (expected contacts:<id> or organizations:<id>)")
    return table, int(row_id)


# ------------------------------------------------------------------- graph


def signature(ws: Workspace) -> tuple:
    """Changes whenever a contact, organization or relationship is written."""
    sql = " UNION ALL ".join(
        f"SELECT count(*), total(id), total(version) FROM {t}" for t in ("contacts", "organizations", "relationships")
    )
    return tuple(tuple(row.values()) for row in ws.store.query(sql))


def organization_tuples(ws: Workspace) -> Iterable[tuple]:
    """``(id, name, industry)`` per organization (plain tuples: no dict per row)."""
    return ws.store.conn.execute("SELECT id, name, industry FROM organizations")


def contact_tuples(ws: Workspace) -> Iterable[tuple]:
    """``(id, first_name, last_name, title, stakeholder_type, organization_id, organization name)`` per contact."""
    return ws.store.conn.execute(
        "SELECT c.id, c.first_name, c.last_name, c.title, c.stakeholder_type, c.organization_id, o.name"
        " FROM contacts c LEFT JOIN organizations o ON o.id = c.organization_id"
    )


def relationship_tuples(ws: Workspace) -> Iterable[tuple]:
    """``(id, source_type, source_id, target_type, target_id, kind, strength)`` per relationship.

    Plain tuples from the cursor: 50k relationships build the graph without a dict per row.
    """
    return ws.store.conn.execute(
        "SELECT id, source_type, source_id, target_type, target_id, kind, strength FROM relationships"
    )


# ------------------------------------------------------------- the page


def fold(value: str | None) -> str:
    """``"José Müller"`` -> ``"jose muller"``: what search compares (no accents, no case).

    NFKD splits a letter from its accents, the combining marks are dropped, then casefold.
    """
    if not value:
        return ""
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _with_fold(conn: sqlite3.Connection) -> None:
    """Register ``crm_fold`` (``fold``) on the connection, for SQL that wants it (a few
    microseconds: connections can be neither weakly referenced nor told apart once closed)."""
    conn.create_function("crm_fold", 1, fold, deterministic=True)


@dataclass
class SearchIndex:
    """Every contact's and organization's name, folded once: ``keys[i]`` is ``fold(rows[i][1])``."""

    signature: tuple
    rows: list[tuple[str, str, str]]  # (node, name, detail)
    keys: list[str]


_SEARCH: dict[str, SearchIndex] = {}


def search_signature(ws: Workspace) -> tuple:
    """Changes whenever a contact or organization is written."""
    sql = " UNION ALL ".join(f"SELECT count(*), total(id), total(version) FROM {t}" for t in NODE_TABLES)
    return tuple(tuple(row) for row in ws.store.conn.execute(sql))


def search_index(ws: Workspace) -> SearchIndex:
    """The folded names of ``ws``, cached in the process and rebuilt after any write to them.

    Folding in SQL would call Python once per row on every keystroke (about 0.2 s at 100k
    contacts); folding once and scanning the list in Python takes milliseconds.
    """
    sig = search_signature(ws)
    cached = _SEARCH.get(ws.path)
    if cached is not None and cached.signature == sig:
        return cached
    rows = ws.store.conn.execute(
        f"SELECT 'contacts:' || c.id, trim{_FULL_NAME}, coalesce(o.name, '')"
        " FROM contacts c LEFT JOIN organizations o ON o.id = c.organization_id"
        " UNION ALL SELECT 'organizations:' || id, coalesce(name, ''), 'organization' FROM organizations"
    ).fetchall()
    built = SearchIndex(sig, rows, [fold(r[1]) for r in rows])
    _SEARCH[ws.path] = built
    return built


_FULL_NAME = "(coalesce(c.first_name,'') || ' ' || coalesce(c.last_name,''))"


def search_nodes(ws: Workspace, text: str, limit: int = 20) -> list[dict[str, Any]]:
    """Contacts and organizations whose name contains ``text``: plain text, ignoring case and
    accents on both sides (``"jose"`` finds José, ``"MULLER"`` finds Müller), by name."""
    needle = fold((text or "").strip())
    if not needle:
        return []
    index = search_index(ws)
    hits = (row for row, key in zip(index.rows, index.keys, strict=True) if needle in key)
    best = heapq.nsmallest(int(limit), hits, key=lambda row: (row[1], row[0]))
    return [{"node": node, "name": name, "detail": detail} for node, name, detail in best]


def deal_focus(ws: Workspace, deal_id: int) -> str:
    """Where a deal sits on the map: its organization, else its contact (NotFound otherwise)."""
    rows = ws.store.query("SELECT organization_id, contact_id FROM deals WHERE id = ?", [int(deal_id)])
    if not rows:
        raise NotFound(f"deals #{deal_id} does not exist")
    if rows[0]["organization_id"] is not None:
        return node_key("organizations", rows[0]["organization_id"])
    if rows[0]["contact_id"] is not None:
        return node_key("contacts", rows[0]["contact_id"])
    raise NotFound(f"deals #{deal_id} has no organization or contact to show on the map")


def organization_choices(ws: Workspace, text: str = "", current: int | None = None, limit: int = 20) -> dict[str, int]:
    """``{"Acme #3": 3, ...}``: the first ``limit`` organizations by name whose name contains
    ``text``, ignoring case and accents (as ``search_nodes``); none for no text. The organization
    ``current`` is always among them (first when it is no match), unless it no longer exists."""
    choices: dict[str, int] = {}
    needle = fold((text or "").strip())
    if needle:
        index = search_index(ws)
        hits = (
            row
            for row, key in zip(index.rows, index.keys, strict=True)
            if row[0].startswith("organizations:") and needle in key
        )
        for node, name, _detail in heapq.nsmallest(int(limit), hits, key=lambda row: (row[1].casefold(), row[0])):
            row_id = parse_node(node)[1]
            choices[f"{name} #{row_id}"] = row_id
    if current is not None and current not in choices.values():
        rows = ws.store.query("SELECT name FROM organizations WHERE id = ?", [int(current)])
        if rows:
            choices = {f"{rows[0]['name']} #{current}": int(current), **choices}
    return choices


def record(ws: Workspace, node: str) -> dict[str, Any]:
    """The row of a contact or organization node (``{}`` when it is gone)."""
    table, row_id = parse_node(node)
    rows = ws.store.query(f"SELECT * FROM [{table}] WHERE id = ?", [int(row_id)])
    return rows[0] if rows else {}


def user_contact(ws: Workspace) -> str | None:
    """The acting user's own contact (matched by the user's email), if any."""
    # the terms of idx_contacts_email (NOCASE, non-empty emails only): found through it, not by a scan
    rows = ws.store.query(
        "SELECT c.id FROM users u JOIN contacts c ON c.email = u.email COLLATE NOCASE AND c.email != ''"
        " WHERE u.username = ? AND u.email IS NOT NULL LIMIT 1",
        [ws.user],
    )
    return node_key("contacts", rows[0]["id"]) if rows else None


def relationships_of(ws: Workspace, node: str) -> list[dict[str, Any]]:
    """Every explicit relationship touching ``node``, with the other end's name."""
    table, row_id = parse_node(node)
    rows = ws.store.query(
        """
        SELECT r.id, r.kind, r.strength, coalesce(r.notes, '') AS notes, r.version,
               CASE WHEN r.source_type = :t AND r.source_id = :i THEN 'out' ELSE 'in' END AS direction,
               CASE WHEN r.source_type = :t AND r.source_id = :i THEN r.target_type ELSE r.source_type END
                 AS other_type,
               CASE WHEN r.source_type = :t AND r.source_id = :i THEN r.target_id ELSE r.source_id END AS other_id
        FROM relationships r
        WHERE (r.source_type = :t AND r.source_id = :i) OR (r.target_type = :t AND r.target_id = :i)
        ORDER BY r.strength DESC, r.id
        """,
        {"t": table, "i": row_id},
    )
    for r in rows:
        if r["other_type"] == "contacts":
            found = ws.store.query(f"SELECT {CONTACT_NAME} AS n FROM contacts WHERE id = ?", [r["other_id"]])
        else:
            found = ws.store.query("SELECT name AS n FROM organizations WHERE id = ?", [r["other_id"]])
        r["other"] = f"{r['other_type']}:{r['other_id']}"
        r["other_name"] = found[0]["n"] if found else f"(missing {r['other']})"
    return rows


# ---------------------------------------------------------------- analysis

_EXPLICIT_TIES = """
  SELECT source_id AS contact_id FROM relationships WHERE source_type = 'contacts'
  UNION SELECT target_id FROM relationships WHERE target_type = 'contacts'
"""


def isolated(ws: Workspace, limit: int = 200, offset: int = 0) -> list[dict[str, Any]]:
    """Contacts with no explicit relationship at all (organization membership does not count)."""
    return ws.store.query(
        "SELECT c.id, trim(coalesce(c.first_name,'') || ' ' || coalesce(c.last_name,'')) AS name,"
        " c.stakeholder_type, coalesce(o.name, '') AS organization"
        " FROM contacts c LEFT JOIN organizations o ON o.id = c.organization_id"
        f" WHERE c.id NOT IN ({_EXPLICIT_TIES}) ORDER BY c.last_name, c.first_name, c.id LIMIT ? OFFSET ?",
        [int(limit), int(offset)],
    )


def isolated_count(ws: Workspace) -> int:
    return ws.store.scalar(f"SELECT count(*) FROM contacts WHERE id NOT IN ({_EXPLICIT_TIES})")


SINGLE_THREADED_SQL = """
WITH ties AS (
  SELECT source_id AS contact_id, target_type AS other_type, target_id AS other_id
    FROM relationships WHERE source_type = 'contacts'
  UNION ALL
  SELECT target_id, source_type, source_id FROM relationships WHERE target_type = 'contacts'
),
threads AS (
  SELECT DISTINCT c.organization_id AS org, c.id AS contact_id
  FROM ties t
  JOIN contacts c ON c.id = t.contact_id
  LEFT JOIN contacts other ON t.other_type = 'contacts' AND other.id = t.other_id
  WHERE c.organization_id IS NOT NULL
    AND NOT (t.other_type = 'organizations' AND t.other_id = c.organization_id)
    AND NOT (t.other_type = 'contacts' AND other.organization_id IS c.organization_id)
)
SELECT s.*, trim(coalesce(c.first_name,'') || ' ' || coalesce(c.last_name,'')) AS thread_contact
FROM (
  SELECT d.id, d.title, d.stage, d.amount, d.currency, d.organization_id, o.name AS organization,
         count(th.contact_id) AS threads, min(th.contact_id) AS thread_contact_id
  FROM deals d
  JOIN organizations o ON o.id = d.organization_id
  LEFT JOIN threads th ON th.org = d.organization_id
  WHERE d.status = 'open'
  GROUP BY d.id
  HAVING count(th.contact_id) <= 1
) s LEFT JOIN contacts c ON c.id = s.thread_contact_id
ORDER BY s.threads DESC, s.amount DESC, s.id
LIMIT :limit
"""


def single_threaded_deals(ws: Workspace, limit: int = 200) -> list[dict[str, Any]]:
    """Open deals whose organization is reachable through only one contact (or none).

    A *thread* into an organization is one of its contacts with at least one explicit
    relationship that leads outside it (to a person at another organization, to a
    person with no organization, or to another organization). ``threads`` is 1 for a
    single-threaded deal and 0 when nobody connects to the organization at all.
    """
    return ws.store.query(SINGLE_THREADED_SQL, {"limit": int(limit)})


INFERRED_SQL = """
WITH occasions AS (
  SELECT DISTINCT 'deal ' || deal_id AS occasion, contact_id FROM activities
   WHERE deal_id IS NOT NULL AND contact_id IS NOT NULL
  UNION
  SELECT DISTINCT kind || ' ' || organization_id || ' ' || substr(occurred_at, 1, 10), contact_id FROM activities
   WHERE kind IN ('meeting', 'email') AND organization_id IS NOT NULL AND contact_id IS NOT NULL
     AND occurred_at IS NOT NULL
)
SELECT a.contact_id AS source_id, b.contact_id AS target_id, count(*) AS shared,
       group_concat(a.occasion, '; ') AS occasions
FROM occasions a JOIN occasions b ON a.occasion = b.occasion AND a.contact_id < b.contact_id
WHERE NOT EXISTS (
  SELECT 1 FROM relationships r WHERE r.source_type = 'contacts' AND r.target_type = 'contacts'
    AND ((r.source_id = a.contact_id AND r.target_id = b.contact_id)
      OR (r.source_id = b.contact_id AND r.target_id = a.contact_id)))
GROUP BY a.contact_id, b.contact_id
ORDER BY shared DESC, a.contact_id, b.contact_id
LIMIT :limit
"""


def inferred_ties(ws: Workspace, limit: int = 100) -> list[dict[str, Any]]:
    """ "Who knows whom", suggested from shared activities.

    Rule: two contacts probably know each other when they (a) both have an activity
    on the same deal, or (b) both had a meeting, or both an email, with the same
    organization on the same day (the same meeting or thread). Pairs already joined
    by any contact-to-contact relationship are left out. ``shared`` counts the
    occasions; the suggested strength is ``min(5, 1 + shared)``, kind ``works_with``.
    """
    rows = ws.store.query(INFERRED_SQL, {"limit": int(limit)})
    if not rows:
        return rows
    ids = {r["source_id"] for r in rows} | {r["target_id"] for r in rows}
    names = {
        r["id"]: r["name"]
        for r in ws.store.query(
            f"SELECT id, {CONTACT_NAME} AS name FROM contacts WHERE id IN ({','.join('?' * len(ids))})",
            list(ids),
        )
    }
    for r in rows:
        r["source_name"], r["target_name"] = names.get(r["source_id"], ""), names.get(r["target_id"], "")
        r["strength"] = min(5, 1 + r["shared"])
    return rows
