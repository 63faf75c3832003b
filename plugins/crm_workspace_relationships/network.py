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
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import networkx as nx

from crm_workspace import NotFound
from crm_workspace.data import schema
from crm_workspace.data.collector import held_off

from . import queries
from .layout import compute_layout
from .queries import node_key
from .schema import RELATIONSHIP_KINDS

if TYPE_CHECKING:
    from crm_workspace import Workspace

ORGANIZATION = "organization"
NODE_TYPES = (*schema.STAKEHOLDER_TYPES, ORGANIZATION)
KINDS = RELATIONSHIP_KINDS
MEMBER_STRENGTH = 3
MAX_NODES = 1_500
#: betweenness centrality samples at most this many sources (exact on small graphs) ...
BETWEENNESS_SAMPLES = 200
#: ... and at most this many node+edge visits in total, so a 10k-node map stays interactive
BETWEENNESS_BUDGET = 1_000_000


# ---------------------------------------------------------------- building


def build_graph(ws: Workspace) -> nx.Graph:
    """The full relationship graph, straight from SQL (no cache).

    Nodes and the implicit ``member_of`` ties go in with one bulk call each (a contact has one
    organization, so its tie is new): at 100k contacts, one ``add_node`` and one edge lookup
    per contact took 2.3 s of the graph's 3.2 s rebuild after any write.
    """
    graph = nx.Graph()
    graph.add_nodes_from(
        (
            node_key("organizations", org_id),
            {
                "table": "organizations",
                "id": org_id,
                "name": name or f"Organization #{org_id}",
                "stakeholder_type": ORGANIZATION,
                "organization": name,
                "organization_id": org_id,
                "title": industry or "",
            },
        )
        for org_id, name, industry in queries.organization_tuples(ws)
    )
    members = []
    nodes = []
    for row_id, first, last, title, kind, org_id, org in queries.contact_tuples(ws):
        key = node_key("contacts", row_id)
        name = f"{first} {last}" if first and last else first or last or f"Contact #{row_id}"
        nodes.append(
            (
                key,
                {
                    "table": "contacts",
                    "id": row_id,
                    "name": name,
                    "stakeholder_type": kind or "other",
                    "organization": org or "",
                    "organization_id": org_id,
                    "title": title or "",
                },
            )
        )
        if org_id is not None and org is not None:
            members.append((key, node_key("organizations", org_id)))
    graph.add_nodes_from(nodes)
    graph.add_edges_from((a, b, _edge({"member_of": (MEMBER_STRENGTH, None)})) for a, b in members)
    for rel_id, s_type, s_id, t_type, t_id, kind, strength in queries.relationship_tuples(ws):
        a, b = f"{s_type}:{s_id}", f"{t_type}:{t_id}"
        if a == b or a not in graph or b not in graph:
            continue
        _add_tie(graph, a, b, kind, int(strength or 3), rel_id)
    return graph


def _edge(ties: dict[str, tuple[int, int | None]]) -> dict[str, Any]:
    """An edge's attributes from its ties ``{kind: (strength, relationship id)}``: the best strength, and the
    path-finding ``cost = 6 - strength``."""
    best = max(strength for strength, _ in ties.values())
    return {"ties": ties, "strength": best, "cost": 6 - best}


def _add_tie(graph: nx.Graph, a: str, b: str, kind: str, strength: int, rel_id: int | None) -> None:
    data = graph.get_edge_data(a, b)
    if data is None:
        graph.add_edge(a, b, **_edge({kind: (strength, rel_id)}))
        return
    old = data["ties"].get(kind)
    if old is None or strength > old[0] or (old[1] is None and rel_id is not None):
        data["ties"][kind] = (strength, rel_id)
    data.update(_edge(data["ties"]))


@dataclass
class GraphState:
    """One built graph with everything derived from it (cached per workspace file)."""

    signature: tuple
    graph: nx.Graph
    pos: dict[str, tuple[float, float]]
    importance: dict[str, int]
    derived: dict[str, Any] = field(default_factory=dict)
    #: ``store.data_version()`` when the signature was last found unchanged
    version: Any = None


_CACHE: dict[str, GraphState] = {}
_LOCK = threading.Lock()


def state(ws: Workspace) -> GraphState:
    """The cached graph state for ``ws``, rebuilt when the tables changed.

    Whether they changed is asked only after a commit (``store.data_version()``): the
    tables' signature reads every row (85 ms of each visit at 100k contacts).
    """
    version = ws.store.data_version()
    cached = _CACHE.get(ws.path)
    if cached is not None and cached.version == version:
        return cached
    sig = queries.signature(ws)
    if cached is not None and cached.signature == sig:
        cached.version = version
        return cached
    with _LOCK:
        cached = _CACHE.get(ws.path)
        if cached is not None and cached.signature == sig:
            return cached
        with held_off():  # 100k contacts: a graph of 217k lasting objects (crm_workspace/data/collector.py)
            graph = build_graph(ws)
            built = GraphState(sig, graph, compute_layout(graph), dict(graph.degree()), version=version)
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


def node_passes(data: dict, f: Filters) -> bool:
    """Whether a node's data passes the stakeholder-type and organization filters."""
    if f.stakeholder_types and data["stakeholder_type"] not in f.stakeholder_types:
        return False
    return f.organization_id is None or data["organization_id"] == f.organization_id


def ties_passing(data: dict, f: Filters) -> dict | None:
    """The ties of an edge that pass the kind and strength filters (None when none do)."""
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
        if not node_passes(graph.nodes[f.center], f):
            return out
        depth = {f.center: 0}
        queue = deque([f.center])
        while queue:
            n = queue.popleft()
            if depth[n] >= f.hops:
                continue
            for nb, data in graph[n].items():
                if nb not in depth and node_passes(graph.nodes[nb], f) and ties_passing(data, f):
                    depth[nb] = depth[n] + 1
                    queue.append(nb)
        nodes: Iterable[str] = depth
    else:
        nodes = [n for n, d in graph.nodes(data=True) if node_passes(d, f)]
    keep = set(nodes)
    out.add_nodes_from((n, graph.nodes[n]) for n in keep)
    for n in keep:
        for nb, data in graph[n].items():
            if nb in keep and n < nb:
                ties = ties_passing(data, f)
                if ties:
                    out.add_edge(n, nb, **_edge(dict(ties)))
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
