"""Relationship map: graph build + layout + analysis at 1k and 10k nodes, and the filtered
ego-network view at 10k nodes (cached graph and layout) against rebuilding the graph each time.

Run alone: ``.venv/bin/python benchmarks/bench_relationships.py``.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crm_workspace_relationships import layout, network, queries

from benchmarks.common import fmt_seconds, large_workspace_path, peak_rss_mb, report, timeit
from crm_workspace import Workspace

SIZE_10K = {"organizations": 2_000, "deals": 2_000, "activities": 10_000, "relationships": 50_000}


def open_copy(source: Path, tmp: Path) -> Workspace:
    target = tmp / source.name
    shutil.copy(source, target)
    return Workspace.open(target, user="bench", builtins_only=True)


def cold(ws: Workspace, *, exact: bool = False) -> dict[str, float]:
    """Build, lay out and analyse from scratch; seconds per phase."""
    times = {}
    network.clear_cache()
    start = time.perf_counter()
    graph = network.build_graph(ws)
    times["build"] = time.perf_counter() - start
    start = time.perf_counter()
    pos = layout.compute_layout(graph)
    times["layout"] = time.perf_counter() - start
    st = network.GraphState(queries.signature(ws), graph, pos, dict(graph.degree()))
    samples = network.BETWEENNESS_SAMPLES
    if exact:
        network.BETWEENNESS_SAMPLES = len(graph)
    try:
        start = time.perf_counter()
        network.connectors(st)
        times["connectors"] = time.perf_counter() - start
    finally:
        network.BETWEENNESS_SAMPLES = samples
    start = time.perf_counter()
    queries.single_threaded_deals(ws)
    queries.inferred_ties(ws)
    queries.isolated(ws)
    queries.isolated_count(ws)
    times["deals+inferred+isolated"] = time.perf_counter() - start
    times["total"] = sum(times.values())
    return times


def ego_view(ws: Workspace, center: str) -> int:
    """What the map does server-side for one filtered ego view: cached state, filter, cap, figure."""
    from crm_workspace_relationships.views import map_figure

    st = network.state(ws)
    sub = network.filtered(st.graph, network.Filters(center=center, hops=2, min_strength=2))
    nodes, _capped = network.capped(sub, st)
    map_figure(st, sub, nodes, [])
    return len(nodes)


def ego_view_rebuilding(ws: Workspace, center: str) -> int:
    """Baseline: the same view, building the graph and its layout from SQL every time."""
    from crm_workspace_relationships.views import map_figure

    graph = network.build_graph(ws)
    st = network.GraphState((), graph, layout.compute_layout(graph), dict(graph.degree()))
    sub = network.filtered(graph, network.Filters(center=center, hops=2, min_strength=2))
    nodes, _capped = network.capped(sub, st)
    map_figure(st, sub, nodes, [])
    return len(nodes)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ws1 = open_copy(large_workspace_path(1_000), Path(tmp))
        ours = cold(ws1)
        exact = cold(ws1, exact=True)
        print("  1k phases:", ", ".join(f"{k} {fmt_seconds(v)}" for k, v in ours.items()))
        report(
            "relationships_build_layout_analysis_1k",
            ours["total"],
            exact["total"],
            "same with exact betweenness",
        )
        ws1.close()

        ws = open_copy(large_workspace_path(8_000, **SIZE_10K), Path(tmp))
        nodes = ws.store.scalar("SELECT (SELECT count(*) FROM contacts) + (SELECT count(*) FROM organizations)")
        edges = ws.store.scalar("SELECT count(*) FROM relationships")
        big = cold(ws)
        print(f"  10k ({nodes:,} nodes, {edges:,} relationships) phases:", end=" ")
        print(", ".join(f"{k} {fmt_seconds(v)}" for k, v in big.items()))
        # every later view reuses the cached graph, layout and connectors
        network.clear_cache()
        st = network.state(ws)
        network.connectors(st)
        warm = timeit(lambda: (network.connectors(network.state(ws)), queries.single_threaded_deals(ws)), repeat=5)
        report(
            "relationships_analysis_cached_10k",
            warm["p50"],
            big["total"],
            "cold build + layout + analysis",
        )
        center = "contacts:17"
        network.clear_cache()
        network.state(ws)  # the first view pays for the build and the layout once
        shown = ego_view(ws, center)
        cached = timeit(lambda: ego_view(ws, center), repeat=5)
        rebuilt = timeit(lambda: ego_view_rebuilding(ws, center), repeat=2, warmup=0)
        print(f"  ego view of {center}, 2 hops, strength >= 2: {shown} nodes drawn")
        report(
            "relationships_ego_view_10k",
            cached["p50"],
            rebuilt["p50"],
            "rebuilding the graph each time",
            goal="goal < 1 s server-side",
        )
        ws.close()
    print(f"  peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
