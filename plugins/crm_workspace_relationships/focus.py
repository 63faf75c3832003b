"""The focused map: one record and its neighbours, grown on demand by expanding nodes.

The map never draws the whole network: it starts from a focus (a person, an
organization, or a deal's organization), shows the nodes within ``hops`` of it that
pass the filters, and adds the neighbours of every node the user expanded. The nodes
are laid out in rings around the focus (``layout.radial_layout``), so the drawing is
readable whatever the size of the workspace.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import networkx as nx

from crm_workspace import NotFound

from .layout import radial_layout
from .network import Filters, GraphState, node_passes, ties_passing

#: at most this many nodes on a focused map (the most connected first; the focus, the
#: expanded nodes, the selection and the path always stay)
FOCUS_LIMIT = 400


@dataclass
class FocusDrawing:
    """What the focused map draws: ``graph`` (only the drawn nodes), its ring positions."""

    graph: nx.Graph
    focus: str
    pos: dict[str, tuple[float, float]]
    expanded: tuple[str, ...]
    hidden: int

    @property
    def nodes(self) -> list[str]:
        return list(self.graph.nodes)

    @property
    def capped(self) -> bool:
        return self.hidden > 0

    @property
    def message(self) -> str:
        nodes, edges = len(self.graph), self.graph.number_of_edges()
        shown = (
            f"{nodes:,} {'node' if nodes == 1 else 'nodes'}, {edges:,} {'connection' if edges == 1 else 'connections'}"
        )
        if self.hidden:
            return f"{shown}; {self.hidden:,} more neighbours not shown (the most connected are kept)."
        return f"{shown}. Click a node to show its neighbours too."


def neighbours(graph: nx.Graph, node: str, f: Filters) -> list[str]:
    """``node``'s neighbours that pass the filters (through a tie that passes them)."""
    return [nb for nb, data in graph[node].items() if node_passes(graph.nodes[nb], f) and ties_passing(data, f)]


def focus_nodes(graph: nx.Graph, focus: str, f: Filters, hops: int, expanded: Iterable[str] = ()) -> list[str]:
    """The focus, what lies within ``hops`` of it, and the neighbours of each expanded node.

    Breadth-first, so the list is ordered by distance from the focus. NotFound when the
    focus is not on the map.
    """
    if focus not in graph:
        raise NotFound(f"{focus} is not on the map")
    depth = {focus: 0}
    queue = deque([focus])
    while queue:
        n = queue.popleft()
        if depth[n] >= hops:
            continue
        for nb in neighbours(graph, n, f):
            if nb not in depth:
                depth[nb] = depth[n] + 1
                queue.append(nb)
    order = list(depth)
    seen = set(order)
    for n in expanded:
        if n not in graph:
            continue
        for nb in [n, *neighbours(graph, n, f)]:
            if nb not in seen:
                seen.add(nb)
                order.append(nb)
    return order


def focus_drawing(
    st: GraphState,
    f: Filters,
    focus: str,
    hops: int = 1,
    expanded: Sequence[str] = (),
    path: Sequence[str] = (),
    selected: str | None = None,
    limit: int = FOCUS_LIMIT,
) -> FocusDrawing:
    """The focused subgraph with ring positions; the path and the selection always stay visible."""
    graph = st.graph
    order = focus_nodes(graph, focus, f, hops, expanded)
    must = [focus, *[n for n in expanded if n in graph], *path, *([selected] if selected else [])]
    must = [n for n in dict.fromkeys(must) if n in graph]
    hidden = 0
    if len(order) > limit:
        rest = [n for n in order if n not in set(must)]
        rest.sort(key=lambda n: -st.importance.get(n, 0))
        keep = set(rest[: max(0, limit - len(must))])
        hidden = len(order) - len(must) - len(keep)
        order = [n for n in order if n in keep or n in must]
    keep_set = set(order) | set(must)
    sub = nx.Graph()
    sub.add_nodes_from((n, graph.nodes[n]) for n in dict.fromkeys([*order, *must]))
    for n in keep_set:
        for nb, data in graph[n].items():
            if nb in keep_set and n < nb:
                ties = ties_passing(data, f)
                if ties:
                    best = max(s for s, _ in ties.values())
                    sub.add_edge(n, nb, ties=dict(ties), strength=best, cost=6 - best)
    for a, b in itertools.pairwise(path):
        if not sub.has_edge(a, b) and graph.has_edge(a, b) and a in sub and b in sub:
            sub.add_edge(a, b, **graph[a][b])

    def by_organization(n: str) -> tuple:
        d = graph.nodes[n]
        return (d["table"] != "organizations", d["organization"] or "", d["name"])

    pos = radial_layout(sub, focus, order_key=by_organization)
    return FocusDrawing(sub, focus, pos, tuple(n for n in expanded if n in sub), hidden)


def default_focus(st: GraphState, preferred: Sequence[str | None] = ()) -> str | None:
    """Where the map starts without a focus: the first ``preferred`` node on the map, else
    the most connected person (else the most connected node)."""
    for n in preferred:
        if n and n in st.graph:
            return n
    if not st.importance:
        return None
    if "most_connected" not in st.derived:  # a walk over every node: once per built graph, not per visit
        people = [n for n, d in st.graph.nodes(data=True) if d["table"] == "contacts"]
        st.derived["most_connected"] = max(
            people or st.graph.nodes, key=lambda n: (st.importance.get(n, 0), -int(n.split(":")[1]))
        )
    return st.derived["most_connected"]
