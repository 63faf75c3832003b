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


# ------------------------------------------------------- the focused map

#: room along a ring per node, in screen pixels at the map's starting zoom: the labelled
#: first ring gets a line of text per node, outer rings only room for the dots
RING_GAP_LABELLED = 26.0
RING_GAP = 11.0
#: the first ring's smallest radius and the step between rings, in pixels
FIRST_RING = 150.0
RING_STEP = 130.0


def radial_layout(graph: nx.Graph, focus: str, order_key=None) -> dict[str, tuple[float, float]]:
    """The focus in the middle, each ring of neighbours (by hops) on a circle around it.

    Rings are sized so neighbouring nodes keep ``RING_GAP_LABELLED`` (first ring) or
    ``RING_GAP`` (outer rings) pixels apart; an outer node sits near its parent's angle
    (nodes are ordered by their parent's angle, then spread evenly). Nodes not connected
    to the focus go on one last ring. Coordinates are pixels at the starting zoom.
    """
    if focus not in graph:
        return {}
    order_key = order_key or (lambda n: str(n))
    depth = nx.single_source_shortest_path_length(graph, focus)
    rings: dict[int, list[str]] = {}
    for n, d in depth.items():
        rings.setdefault(d, []).append(n)
    far = [n for n in graph if n not in depth]
    if far:
        rings[max(rings) + 1] = far
    pos: dict[str, tuple[float, float]] = {focus: (0.0, 0.0)}
    angle: dict[str, float] = {focus: 0.0}
    radius = 0.0
    for d in sorted(rings):
        if d == 0:
            continue
        members = rings[d]

        def parent_angle(n: str, d: int = d) -> float:
            placed = [angle[nb] for nb in graph.neighbors(n) if nb in angle and depth.get(nb, d) < d]
            return min(placed) if placed else 0.0

        members.sort(key=lambda n: (parent_angle(n), order_key(n)))
        gap = RING_GAP_LABELLED if d == 1 else RING_GAP
        radius = max(FIRST_RING if d == 1 else radius + RING_STEP, len(members) * gap / (2 * math.pi))
        start = parent_angle(members[0]) if d > 1 else math.pi / 2
        for i, n in enumerate(members):
            t = start + 2 * math.pi * i / len(members)
            angle[n] = t % (2 * math.pi)
            pos[n] = (radius * math.cos(t), radius * math.sin(t))
    return pos


#: the map's label font: about this many pixels per character and per line
CHAR_WIDTH = 6.6
LINE_HEIGHT = 15.0


def place_labels(
    pos: dict[str, tuple[float, float]],
    names: dict[str, str],
    wanted: list[str],
    scale: float = 1.0,
    radii: dict[str, float] | None = None,
) -> dict[str, tuple[str, float, float]]:
    """Where each wanted label goes so that no two labels (and no label and node) overlap.

    ``wanted`` is in priority order (the focus first); ``scale`` is screen pixels per
    layout unit. Each label tries the side facing away from the focus, then the other
    side, then above and below; a label that fits nowhere is left out (the node's hover
    still names it), except the first, which is always placed. Returns
    ``node -> (align, x_offset, y_offset)`` in pixels, where ``align`` is Bokeh's
    ``text_align`` and the text is vertically centred. ``radii`` are the dots' radii in
    pixels (8 when not given).
    """
    radii = radii or {}
    boxes: list[tuple[float, float, float, float]] = []
    screen = {n: (x * scale, y * scale) for n, (x, y) in pos.items()}
    dots = []
    for n, (x, y) in screen.items():
        r = radii.get(n, 8.0)
        dots.append((x - r, y - r, x + r, y + r, n))
    placed: dict[str, tuple[str, float, float]] = {}
    for n in wanted:
        if n not in screen:
            continue
        x, y = screen[n]
        width, half = len(names.get(n, "")) * CHAR_WIDTH, LINE_HEIGHT / 2
        pad = radii.get(n, 8.0) + 3
        right = ("left", pad, 0.0, (x + pad, y - half, x + pad + width, y + half))
        left = ("right", -pad, 0.0, (x - pad - width, y - half, x - pad, y + half))
        above = ("center", 0.0, pad + half, (x - width / 2, y + pad, x + width / 2, y + pad + 2 * half))
        below = ("center", 0.0, -pad - half, (x - width / 2, y - pad - 2 * half, x + width / 2, y - pad))
        candidates = (right, left, above, below) if x >= 0 else (left, right, above, below)
        for align, dx, dy, box in candidates:
            if not any(_overlap(box, b) for b in boxes) and not any(_overlap(box, d[:4]) for d in dots if d[4] != n):
                boxes.append(box)
                placed[n] = (align, dx, dy)
                break
        else:
            if not placed:  # the first (the focus) is always named, over its neighbours' dots if need be
                align, dx, dy, box = candidates[0]
                boxes.append(box)
                placed[n] = (align, dx, dy)
    return placed


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def label_box(
    pos: tuple[float, float], text: str, placement: tuple[str, float, float], scale: float = 1.0
) -> tuple[float, float, float, float]:
    """The pixel box of one placed label (what ``place_labels`` kept apart)."""
    align, dx, dy = placement
    x, y = pos[0] * scale + dx, pos[1] * scale + dy
    width, half = len(text) * CHAR_WIDTH, LINE_HEIGHT / 2
    left = {"left": x, "right": x - width, "center": x - width / 2}[align]
    return (left, y - half, left + width, y + half)


# ----------------------------------------------------------- the org chart


def tree_layout(roots: list[dict]) -> dict[int, tuple[float, int]]:
    """A layered, top-down tree: ``id -> (x, depth)``; a parent is centred over its children.

    Leaves take consecutive slots left to right (one slot per box); each parent sits
    halfway between its first and last child, one layer above them. People with neither
    manager nor reports (``loose``) would make one endless row: they fill rows as wide as
    the trees (at least ``LOOSE_ROW`` boxes) in the layers below.
    """
    pos: dict[int, tuple[float, int]] = {}
    next_slot = 0.0

    def place(node: dict, depth: int) -> float:
        nonlocal next_slot
        children = node["children"]
        if not children:
            x = next_slot
            next_slot += 1
        else:
            xs = [place(child, depth + 1) for child in children]
            x = (xs[0] + xs[-1]) / 2
        pos[node["id"]] = (x, depth)
        return x

    trees = [r for r in roots if r["children"]]
    loose = [r for r in roots if not r["children"]]
    for root in trees:
        place(root, 0)
    top = max((d for _, d in pos.values()), default=-1) + 1
    width = max(int(next_slot), LOOSE_ROW)
    for i, person in enumerate(loose):
        pos[person["id"]] = (float(i % width), top + i // width)
    return pos


#: people without a reporting line fill rows at least this many boxes wide
LOOSE_ROW = 6
