"""Where each node sits on the map: computed once per graph, deterministic for a seed.

Small graphs get a real force-directed layout; large ones a clustered layout that
scales to tens of thousands of nodes (see ``compute_layout``).
"""

from __future__ import annotations

import math
from collections import deque

import networkx as nx

from .queries import node_key

#: graphs up to this size get a real force-directed layout (networkx's dense solver);
#: larger ones the clustered layout (organizations on a spiral, members around them).
SPRING_LIMIT = 499


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
