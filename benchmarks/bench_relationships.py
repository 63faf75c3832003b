"""Relationship map: graph build + layout + analysis at 1k and 10k nodes, the focused map
at 10k nodes (cached graph and layout) against rebuilding the graph each time, and the
accent-insensitive search against folding every name in Python.

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
    """What the map does server-side for one focused view: cached state, 2 hops, cap, rings, figure."""
    from crm_workspace_relationships.focus import focus_drawing
    from crm_workspace_relationships.views import map_figure

    st = network.state(ws)
    drawn = focus_drawing(st, network.Filters(min_strength=2), center, hops=2)
    map_figure(st, drawn, [])
    return len(drawn.nodes)


def ego_view_rebuilding(ws: Workspace, center: str) -> int:
    """Baseline: the same view, building the graph and its layout from SQL every time."""
    from crm_workspace_relationships.focus import focus_drawing
    from crm_workspace_relationships.views import map_figure

    graph = network.build_graph(ws)
    st = network.GraphState((), graph, layout.compute_layout(graph), dict(graph.degree()))
    drawn = focus_drawing(st, network.Filters(min_strength=2), center, hops=2)
    map_figure(st, drawn, [])
    return len(drawn.nodes)


def search_folding_in_sql(ws: Workspace, text: str) -> list:
    """Baseline: the same search in SQL, calling the Python fold on every name at every keystroke."""
    queries._with_fold(ws.store.conn)
    return ws.store.query(
        "SELECT 'contacts:' || c.id AS node, trim(coalesce(c.first_name,'') || ' ' || coalesce(c.last_name,'')) AS name,"
        " coalesce(o.name, '') AS detail FROM contacts c LEFT JOIN organizations o ON o.id = c.organization_id"
        " WHERE crm_fold(coalesce(c.first_name,'') || ' ' || coalesce(c.last_name,'')) LIKE :p"
        " UNION ALL SELECT 'organizations:' || id, name, 'organization' FROM organizations"
        " WHERE crm_fold(name) LIKE :p ORDER BY name LIMIT 25",
        {"p": f"%{queries.fold(text)}%"},
    )


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
        queries._SEARCH.clear()
        start = time.perf_counter()
        queries.search_index(ws)
        print(f"  search index (every name folded once, then cached): {fmt_seconds(time.perf_counter() - start)}")
        for text in ("jose", "müller", "zzz"):  # "zzz": no match, every row is read
            found = len(queries.search_nodes(ws, text, limit=25))
            ours = timeit(lambda text=text: queries.search_nodes(ws, text, limit=25), repeat=7)
            naive = timeit(lambda text=text: search_folding_in_sql(ws, text), repeat=3)
            report(
                f"relationships_search_{text}_10k",
                ours["p50"],
                naive["p50"],
                "folding every name in SQL",
                goal=f"{found} found; goal < 50 ms per keystroke",
            )
        ws.close()
    print(f"  peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
