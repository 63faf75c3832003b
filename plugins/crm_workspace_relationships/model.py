"""The relationship graph: built from SQL, laid out once, cached, filtered, analysed.

Nodes are ``"contacts:12"`` and ``"organizations:3"`` with ``name``,
``stakeholder_type`` (``"organization"`` for organizations), ``organization``
(name) and ``organization_id``. Edges are undirected and carry ``ties``: a dict
``kind -> (strength, relationship id)`` (several kinds may join one pair), the
pair's best ``strength`` and ``cost = 6 - strength`` (the weight path finding
minimises, so strong ties are preferred). Every contact with an
``organization_id`` is also joined to its organization by an implicit
``member_of`` tie of strength 3 (relationship id ``None``).

The full graph, its layout and its importance scores are computed once per
workspace file and cached in the process, keyed by a signature of the
contacts, organizations and relationships tables (row count, sum of ids, sum of
versions): any insert, update or delete changes it and the next read rebuilds.
Views then cut filtered subgraphs out of the cached graph.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import networkx as nx

from crm_workspace import NotFound
from crm_workspace.data import schema

from .schema import RELATIONSHIP_KINDS

if TYPE_CHECKING:
    from crm_workspace import Workspace

ORGANIZATION = "organization"
NODE_TYPES = (*schema.STAKEHOLDER_TYPES, ORGANIZATION)
KINDS = RELATIONSHIP_KINDS
MEMBER_STRENGTH = 3
MAX_NODES = 1_500
#: graphs up to this size get a real force-directed layout (networkx's dense solver);
#: larger ones the clustered layout (organizations on a spiral, members around them).
SPRING_LIMIT = 499
#: betweenness centrality samples at most this many sources (exact on small graphs) ...
BETWEENNESS_SAMPLES = 200
#: ... and at most this many node+edge visits in total, so a 10k-node map stays interactive
BETWEENNESS_BUDGET = 1_000_000


def node_key(table: str, row_id: int) -> str:
    return f"{table}:{int(row_id)}"


def parse_node(node: str) -> tuple[str, int]:
    """``"contacts:12"`` -> ``("contacts", 12)``; NotFound for anything else."""
    table, _, row_id = str(node).partition(":")
    if table not in ("contacts", "organizations") or not row_id.isdigit():
        raise NotFound(f"'{node}' is not a node (expected contacts:<id> or organizations:<id>)")
    return table, int(row_id)


# ---------------------------------------------------------------- building


def signature(ws: Workspace) -> tuple:
    """Changes whenever a contact, organization or relationship is written."""
    sql = " UNION ALL ".join(
        f"SELECT count(*), total(id), total(version) FROM {t}" for t in ("contacts", "organizations", "relationships")
    )
    return tuple(tuple(row.values()) for row in ws.store.query(sql))


def build_graph(ws: Workspace) -> nx.Graph:
    """The full relationship graph, straight from SQL (no cache)."""
    graph = nx.Graph()
    for row in ws.store.query("SELECT id, name, industry, city FROM organizations"):
        graph.add_node(
            node_key("organizations", row["id"]),
            table="organizations",
            id=row["id"],
            name=row["name"] or f"Organization #{row['id']}",
            stakeholder_type=ORGANIZATION,
            organization=row["name"],
            organization_id=row["id"],
            title=row["industry"] or "",
        )
    contacts = ws.store.query(
        "SELECT c.id, c.first_name, c.last_name, c.title, c.stakeholder_type, c.organization_id, o.name AS org"
        " FROM contacts c LEFT JOIN organizations o ON o.id = c.organization_id"
    )
    for row in contacts:
        key = node_key("contacts", row["id"])
        name = " ".join(p for p in (row["first_name"], row["last_name"]) if p) or f"Contact #{row['id']}"
        graph.add_node(
            key,
            table="contacts",
            id=row["id"],
            name=name,
            stakeholder_type=row["stakeholder_type"] or "other",
            organization=row["org"] or "",
            organization_id=row["organization_id"],
            title=row["title"] or "",
        )
        if row["organization_id"] is not None and row["org"] is not None:
            _add_tie(graph, key, node_key("organizations", row["organization_id"]), "member_of", MEMBER_STRENGTH, None)
    rows = ws.store.conn.execute(
        "SELECT id, source_type, source_id, target_type, target_id, kind, strength FROM relationships"
    )
    for rel_id, s_type, s_id, t_type, t_id, kind, strength in rows:
        a, b = f"{s_type}:{s_id}", f"{t_type}:{t_id}"
        if a == b or a not in graph or b not in graph:
            continue
        _add_tie(graph, a, b, kind, int(strength or 3), rel_id)
    return graph


def _add_tie(graph: nx.Graph, a: str, b: str, kind: str, strength: int, rel_id: int | None) -> None:
    data = graph.get_edge_data(a, b)
    if data is None:
        graph.add_edge(a, b, ties={kind: (strength, rel_id)}, strength=strength, cost=6 - strength)
        return
    old = data["ties"].get(kind)
    if old is None or strength > old[0] or (old[1] is None and rel_id is not None):
        data["ties"][kind] = (strength, rel_id)
    best = max(s for s, _ in data["ties"].values())
    data["strength"], data["cost"] = best, 6 - best


def compute_layout(graph: nx.Graph, seed: int = 7) -> dict[str, tuple[float, float]]:
    """Positions for every node, deterministic for a given graph and seed.

    Up to ``SPRING_LIMIT`` nodes: ``nx.spring_layout`` (Fruchterman-Reingold, weighted
    by strength). Larger graphs: organizations are placed by a spring layout of the
    organization-level graph (or, past ``SPRING_LIMIT`` organizations, on a sunflower
    spiral in breadth-first order so connected organizations sit near each other) and
    each organization's people on a small spiral around it; people with no
    organization sit next to their first placed neighbour, or on an outer ring.
    """
    if len(graph) == 0:
        return {}
    if len(graph) <= SPRING_LIMIT:
        pos = nx.spring_layout(graph, seed=seed, weight="strength", iterations=60)
        return {n: (float(x), float(y)) for n, (x, y) in pos.items()}
    golden = math.pi * (3 - math.sqrt(5))
    orgs = [n for n, d in graph.nodes(data=True) if d["table"] == "organizations"]
    members: dict[str, list[str]] = {o: [] for o in orgs}
    loose: list[str] = []
    for n, d in graph.nodes(data=True):
        if d["table"] != "contacts":
            continue
        org = node_key("organizations", d["organization_id"]) if d["organization_id"] is not None else None
        (members.get(org, loose)).append(n)
    # organization-level graph: two organizations are close when their people are tied
    org_graph = nx.Graph()
    org_graph.add_nodes_from(orgs)
    org_of = {m: o for o, ms in members.items() for m in ms}
    for o in orgs:
        org_of[o] = o
    for a, b in graph.edges():
        oa, ob = org_of.get(a), org_of.get(b)
        if oa and ob and oa != ob:
            org_graph.add_edge(oa, ob)
    spacing = 1.0
    centers: dict[str, tuple[float, float]] = {}
    if 1 < len(orgs) <= SPRING_LIMIT:
        pos = nx.spring_layout(org_graph, seed=seed, iterations=60)
        scale = spacing * math.sqrt(len(orgs)) / 2
        centers = {o: (float(x) * scale, float(y) * scale) for o, (x, y) in pos.items()}
    else:
        order: list[str] = []
        seen: set[str] = set()
        for start in sorted(orgs, key=lambda o: -org_graph.degree(o)):
            if start in seen:
                continue
            seen.add(start)
            queue = deque([start])
            while queue:
                o = queue.popleft()
                order.append(o)
                for nb in org_graph.neighbors(o):
                    if nb not in seen:
                        seen.add(nb)
                        queue.append(nb)
        for i, o in enumerate(order):
            r, t = spacing * math.sqrt(i + 0.5), i * golden
            centers[o] = (r * math.cos(t), r * math.sin(t))
    positions: dict[str, tuple[float, float]] = {}
    for o, (cx, cy) in centers.items():
        positions[o] = (cx, cy)
        people = members[o]
        for j, m in enumerate(people):
            r, t = 0.42 * spacing * math.sqrt((j + 1) / len(people)), j * golden + 0.3
            positions[m] = (cx + r * math.cos(t), cy + r * math.sin(t))
    outer = spacing * math.sqrt(len(orgs) + 1) + 1
    for j, m in enumerate(loose):
        placed = next((positions[nb] for nb in graph.neighbors(m) if nb in positions), None)
        if placed is not None:
            t = j * golden
            positions[m] = (placed[0] + 0.3 * math.cos(t), placed[1] + 0.3 * math.sin(t))
        else:
            t = j * golden
            r = outer + 0.2 * math.sqrt(j)
            positions[m] = (r * math.cos(t), r * math.sin(t))
    return positions


@dataclass
class GraphState:
    """One built graph with everything derived from it (cached per workspace file)."""

    signature: tuple
    graph: nx.Graph
    pos: dict[str, tuple[float, float]]
    importance: dict[str, int]
    derived: dict[str, Any] = field(default_factory=dict)


_CACHE: dict[str, GraphState] = {}
_LOCK = threading.Lock()


def state(ws: Workspace) -> GraphState:
    """The cached graph state for ``ws``, rebuilt when the tables changed."""
    sig = signature(ws)
    cached = _CACHE.get(ws.path)
    if cached is not None and cached.signature == sig:
        return cached
    with _LOCK:
        cached = _CACHE.get(ws.path)
        if cached is not None and cached.signature == sig:
            return cached
        graph = build_graph(ws)
        built = GraphState(sig, graph, compute_layout(graph), dict(graph.degree()))
        _CACHE[ws.path] = built
        return built


def clear_cache() -> None:
    _CACHE.clear()


# --------------------------------------------------------------- filtering


@dataclass(frozen=True)
class Filters:
    """What the map (and ``graph()``) keeps. ``None``/empty means "no filter"."""

    stakeholder_types: tuple[str, ...] = ()
    organization_id: int | None = None
    kinds: tuple[str, ...] = ()
    min_strength: int = 1
    center: str | None = None
    hops: int = 1

    @classmethod
    def of(cls, **filters: Any) -> Filters:
        types = filters.pop("stakeholder_types", None) or filters.pop("stakeholder_type", None) or ()
        kinds = filters.pop("kinds", None) or filters.pop("kind", None) or ()
        if isinstance(types, str):
            types = (types,)
        if isinstance(kinds, str):
            kinds = (kinds,)
        org = filters.pop("organization_id", None)
        made = cls(
            stakeholder_types=tuple(types),
            organization_id=int(org) if org not in (None, "") else None,
            kinds=tuple(kinds),
            min_strength=int(filters.pop("min_strength", 1) or 1),
            center=filters.pop("center", None) or None,
            hops=int(filters.pop("hops", 1) or 1),
        )
        if filters:
            raise TypeError(f"unknown relationship filters: {', '.join(sorted(filters))}")
        return made


def _node_ok(data: dict, f: Filters) -> bool:
    if f.stakeholder_types and data["stakeholder_type"] not in f.stakeholder_types:
        return False
    return f.organization_id is None or data["organization_id"] == f.organization_id


def _ties_ok(data: dict, f: Filters) -> dict | None:
    ties = data["ties"]
    if f.kinds or f.min_strength > 1:
        ties = {k: v for k, v in ties.items() if (not f.kinds or k in f.kinds) and v[0] >= f.min_strength}
    return ties or None


def filtered(graph: nx.Graph, f: Filters) -> nx.Graph:
    """The nodes and ties that pass ``f`` (and, with ``center``, within ``hops``).

    Without any filter this is ``graph`` itself (read-only: copy before changing it);
    otherwise a new graph.
    """
    if f == Filters(hops=f.hops):
        return graph
    out = nx.Graph()
    if f.center is not None:
        if f.center not in graph:
            raise NotFound(f"{f.center} is not on the map")
        if not _node_ok(graph.nodes[f.center], f):
            return out
        depth = {f.center: 0}
        queue = deque([f.center])
        while queue:
            n = queue.popleft()
            if depth[n] >= f.hops:
                continue
            for nb, data in graph[n].items():
                if nb not in depth and _node_ok(graph.nodes[nb], f) and _ties_ok(data, f):
                    depth[nb] = depth[n] + 1
                    queue.append(nb)
        nodes: Iterable[str] = depth
    else:
        nodes = [n for n, d in graph.nodes(data=True) if _node_ok(d, f)]
    keep = set(nodes)
    out.add_nodes_from((n, graph.nodes[n]) for n in keep)
    for n in keep:
        for nb, data in graph[n].items():
            if nb in keep and n < nb:
                ties = _ties_ok(data, f)
                if ties:
                    best = max(s for s, _ in ties.values())
                    out.add_edge(n, nb, ties=dict(ties), strength=best, cost=6 - best)
    return out


def graph(ws: Workspace, **filters: Any) -> nx.Graph:
    """The relationship graph as networkx, with the map's filters.

    Filters: ``stakeholder_types`` (or ``stakeholder_type``), ``organization_id``,
    ``kinds`` (or ``kind``), ``min_strength``, ``center`` (a node such as
    ``"contacts:12"``) with ``hops``. Each node carries ``x``/``y`` from the cached layout.
    """
    st = state(ws)
    sub = filtered(st.graph, Filters.of(**filters))
    sub = sub.copy() if sub is st.graph else sub
    for n, data in sub.nodes(data=True):
        data["x"], data["y"] = st.pos[n]
    return sub


def capped(sub: nx.Graph, st: GraphState, limit: int = MAX_NODES, keep: Iterable[str] = ()) -> tuple[list[str], bool]:
    """At most ``limit`` nodes of ``sub`` to draw (the most important first, ``keep`` always)."""
    nodes = list(sub.nodes)
    if len(nodes) <= limit:
        return nodes, False
    must = [n for n in keep if n in sub]
    rest = sorted((n for n in nodes if n not in set(must)), key=lambda n: -st.importance.get(n, 0))
    return must + rest[: max(0, limit - len(must))], True


def search_nodes(ws: Workspace, text: str, limit: int = 20) -> list[dict[str, Any]]:
    """Contacts and organizations whose name contains ``text`` (plain text, SQL LIKE)."""
    text = (text or "").strip()
    if not text:
        return []
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = ws.store.query(
        "SELECT 'contacts:' || c.id AS node, trim(coalesce(c.first_name,'') || ' ' || coalesce(c.last_name,'')) AS name,"
        " coalesce(o.name, '') AS detail FROM contacts c LEFT JOIN organizations o ON o.id = c.organization_id"
        " WHERE (coalesce(c.first_name,'') || ' ' || coalesce(c.last_name,'')) LIKE :p ESCAPE '\\'"
        " UNION ALL SELECT 'organizations:' || id, name, 'organization' FROM organizations WHERE name LIKE :p ESCAPE '\\'"
        " ORDER BY name LIMIT :limit",
        {"p": pattern, "limit": int(limit)},
    )
    return rows


def label(ws_or_state: Any, node: str) -> str:
    st = ws_or_state if isinstance(ws_or_state, GraphState) else state(ws_or_state)
    data = st.graph.nodes.get(node)
    if data is None:
        return node
    org = data.get("organization")
    return f"{data['name']} ({org})" if data["table"] == "contacts" and org else data["name"]


# ---------------------------------------------------------------- analysis


def introduction_path(graph: nx.Graph, source: str, target: str) -> list[dict[str, Any]]:
    """The best introduction path from ``source`` to ``target``, step by step.

    Dijkstra on ``cost = 6 - strength``: two strong ties (cost 1 + 1) beat one weak
    tie (cost 5). Returns ``[]`` when ``source == target``; raises NotFound when
    either node is missing or no path exists.
    """
    for n in (source, target):
        if n not in graph:
            raise NotFound(f"{n} is not on the map")
    if source == target:
        return []
    try:
        nodes = nx.dijkstra_path(graph, source, target, weight="cost")
    except nx.NetworkXNoPath as error:
        raise NotFound(
            f"no introduction path from {graph.nodes[source]['name']} to {graph.nodes[target]['name']}"
        ) from error
    steps = []
    for a, b in itertools.pairwise(nodes):
        data = graph[a][b]
        kind, (strength, _rel) = max(data["ties"].items(), key=lambda kv: kv[1][0])
        steps.append(
            {
                "step": len(steps) + 1,
                "from": a,
                "from_name": graph.nodes[a]["name"],
                "to": b,
                "to_name": graph.nodes[b]["name"],
                "kind": kind,
                "strength": strength,
            }
        )
    return steps


def connectors(st: GraphState, top: int = 25) -> list[dict[str, Any]]:
    """Key connectors: betweenness centrality (sampled on large graphs) and articulation points.

    Computed on the explicit relationships plus organization membership; only people
    are listed. Cached with the graph state. ``cut`` marks an articulation point: removing it splits the network.
    """
    if "connectors" not in st.derived:
        g = st.graph
        size = len(g) + g.number_of_edges()
        k = max(20, min(BETWEENNESS_SAMPLES, BETWEENNESS_BUDGET // max(size, 1)))
        k = k if len(g) > k * 2 else None
        between = nx.betweenness_centrality(g, k=k, seed=7 if k else None, normalized=True)
        cuts = set(nx.articulation_points(g))
        rows = []
        for n, score in between.items():
            data = g.nodes[n]
            if data["table"] != "contacts":
                continue  # connectors are people; organizations are hubs by construction
            rows.append(
                {
                    "node": n,
                    "name": data["name"],
                    "stakeholder_type": data["stakeholder_type"],
                    "organization": data["organization"] or "",
                    "betweenness": round(score, 5),
                    "cut": n in cuts,
                    "ties": g.degree(n),
                }
            )
        rows.sort(key=lambda r: (-r["betweenness"], -r["cut"], r["name"]))
        st.derived["connectors"] = rows
    return st.derived["connectors"][:top]


def articulation_points(graph: nx.Graph) -> set[str]:
    return set(nx.articulation_points(graph))


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
  SELECT d.id, d.title, d.stage, d.amount, d.organization_id, o.name AS organization,
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
            "SELECT id, trim(coalesce(first_name,'') || ' ' || coalesce(last_name,'')) AS name FROM contacts"
            f" WHERE id IN ({','.join('?' * len(ids))})",
            list(ids),
        )
    }
    for r in rows:
        r["source_name"], r["target_name"] = names.get(r["source_id"], ""), names.get(r["target_id"], "")
        r["strength"] = min(5, 1 + r["shared"])
    return rows


def accept_inferred(ws: Workspace, source_id: int, target_id: int, shared: int = 1) -> dict[str, Any]:
    """Turn a suggestion into a real ``works_with`` relationship (through the Store)."""
    return add_relationship(
        ws,
        f"contacts:{source_id}",
        f"contacts:{target_id}",
        "works_with",
        min(5, 1 + int(shared)),
        notes=f"inferred from {shared} shared activit{'y' if shared == 1 else 'ies'}",
    )


def org_chart(ws: Workspace, organization_id: int) -> list[dict[str, Any]]:
    """The organization's people as a forest from ``reports_to`` links (source reports to target).

    Each node: ``{"id", "name", "title", "children": [...]}``. Roots are people with no
    manager inside the organization; a reporting cycle is broken where it is met.
    """
    people = ws.store.query(
        "SELECT id, trim(coalesce(first_name,'') || ' ' || coalesce(last_name,'')) AS name, coalesce(title,'') AS title"
        " FROM contacts WHERE organization_id = ? ORDER BY last_name, first_name, id",
        [int(organization_id)],
    )
    if not people and not ws.store.query("SELECT 1 FROM organizations WHERE id = ?", [int(organization_id)]):
        raise NotFound(f"organizations #{organization_id} does not exist")
    by_id = {p["id"]: {**p, "children": []} for p in people}
    links = ws.store.query(
        "SELECT source_id, target_id FROM relationships WHERE kind = 'reports_to'"
        " AND source_type = 'contacts' AND target_type = 'contacts'"
        " AND source_id IN (SELECT id FROM contacts WHERE organization_id = :o)"
        " AND target_id IN (SELECT id FROM contacts WHERE organization_id = :o) ORDER BY id",
        {"o": int(organization_id)},
    )
    manager: dict[int, int] = {}
    for link in links:
        report, boss = link["source_id"], link["target_id"]
        if report in manager or report == boss:
            continue  # one manager each: the first link wins
        # refuse a link that would close a cycle
        up, seen = boss, set()
        while up in manager and up not in seen:
            seen.add(up)
            up = manager[up]
        if up == report:
            continue
        manager[report] = boss
    roots = []
    for pid, node in by_id.items():
        boss = manager.get(pid)
        (by_id[boss]["children"] if boss is not None else roots).append(node)
    return roots


# ------------------------------------------------------------------ editing


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
    return _with_names(ws, rows)


def _with_names(ws: Workspace, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for r in rows:
        if r["other_type"] == "contacts":
            found = ws.store.query(
                "SELECT trim(coalesce(first_name,'') || ' ' || coalesce(last_name,'')) AS n FROM contacts WHERE id = ?",
                [r["other_id"]],
            )
        else:
            found = ws.store.query("SELECT name AS n FROM organizations WHERE id = ?", [r["other_id"]])
        r["other"] = f"{r['other_type']}:{r['other_id']}"
        r["other_name"] = found[0]["n"] if found else f"(missing {r['other']})"
    return rows


def add_relationship(
    ws: Workspace, source: str, target: str, kind: str, strength: int = 3, notes: str = ""
) -> dict[str, Any]:
    """Create a relationship ``source --kind--> target`` (validated by the Store hooks)."""
    s_table, s_id = parse_node(source)
    t_table, t_id = parse_node(target)
    return ws.store.insert(
        "relationships",
        {
            "source_type": s_table,
            "source_id": s_id,
            "target_type": t_table,
            "target_id": t_id,
            "kind": kind,
            "strength": strength,
            "notes": notes or None,
        },
    )


def update_relationship(ws: Workspace, rel_id: int, changes: dict[str, Any], version: int | None) -> dict[str, Any]:
    return ws.store.update("relationships", int(rel_id), changes, version=version)


def delete_relationship(ws: Workspace, rel_id: int, version: int | None) -> dict[str, Any]:
    return ws.store.delete("relationships", int(rel_id), version=version)


def duplicate_message(ws: Workspace, record: dict[str, Any], before: dict[str, Any] | None) -> dict[str, str] | None:
    """The duplicate check: one relationship per (source, target, kind)."""
    merged = {**(before or {}), **record}
    keys = ("source_type", "source_id", "target_type", "target_id", "kind")
    if before is not None and not any(k in record for k in keys):
        return None
    if any(merged.get(k) in (None, "") for k in keys):
        return None
    rows = ws.store.query(
        "SELECT id FROM relationships WHERE source_type = ? AND source_id = ? AND target_type = ? AND target_id = ?"
        " AND kind = ? AND id IS NOT ? LIMIT 1",
        [*(merged[k] for k in keys), (before or {}).get("id")],
    )
    if rows:
        return {
            "kind": f"this {merged['kind']} relationship from {merged['source_type']} #{merged['source_id']}"
            f" to {merged['target_type']} #{merged['target_id']} already exists (relationship #{rows[0]['id']})"
        }
    return None


def user_contact(ws: Workspace) -> str | None:
    """The acting user's own contact (matched by the user's email), if any."""
    rows = ws.store.query(
        "SELECT c.id FROM users u JOIN contacts c ON lower(c.email) = lower(u.email)"
        " WHERE u.username = ? AND u.email IS NOT NULL LIMIT 1",
        [ws.user],
    )
    return node_key("contacts", rows[0]["id"]) if rows else None
