"""The map's Bokeh figure: nodes at their cached positions, ties, a legend, the path in red.

Text from the database reaches the browser only as Bokeh data (tooltips escape it).
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING, Any

from ..network import ORGANIZATION, GraphState

if TYPE_CHECKING:
    import networkx as nx

PALETTE = {
    "customer": "#1f77b4",
    "prospect": "#aec7e8",
    "employee": "#2ca02c",
    "executive": "#d62728",
    "partner": "#9467bd",
    "supplier": "#8c564b",
    "media": "#e377c2",
    "investor": "#ff7f0e",
    "advisor": "#17becf",
    "other": "#7f7f7f",
    ORGANIZATION: "#393b79",
}
PATH_COLOR = "#ff2a00"
MAP_NAME = "relationship-map"


def map_figure(st: GraphState, sub: nx.Graph, nodes: list[str], path: list[str]) -> tuple[Any, Any]:
    """The Bokeh figure of ``nodes`` (a subset of ``sub``), with ``path`` highlighted."""
    from bokeh.models import (
        ColumnDataSource,
        GraphRenderer,
        HoverTool,
        Legend,
        LegendItem,
        MultiLine,
        NodesOnly,
        Scatter,
        StaticLayoutProvider,
        TapTool,
    )
    from bokeh.plotting import figure

    fig = figure(
        name=MAP_NAME,
        tools="pan,wheel_zoom,box_zoom,reset,save",
        active_scroll="wheel_zoom",
        sizing_mode="stretch_width",
        height=620,
        match_aspect=True,
        toolbar_location="above",
    )
    fig.axis.visible = False
    fig.grid.visible = False
    keep = set(nodes)
    g = sub.subgraph(nodes)
    importance = st.importance
    node_data: dict[str, list] = {k: [] for k in ("index", "name", "kind", "organization", "title", "ties")}
    node_data.update(color=[], size=[], marker=[])
    for n in nodes:
        d = sub.nodes[n]
        node_data["index"].append(n)
        node_data["name"].append(d["name"])
        node_data["kind"].append(d["stakeholder_type"])
        node_data["organization"].append(d["organization"] or "")
        node_data["title"].append(d["title"] or "")
        node_data["ties"].append(importance.get(n, 0))
        node_data["color"].append(PALETTE.get(d["stakeholder_type"], "#7f7f7f"))
        node_data["size"].append(min(34.0, 7 + 2.2 * math.sqrt(importance.get(n, 0))))
        node_data["marker"].append("square" if d["table"] == "organizations" else "circle")
    edge_data: dict[str, list] = {"start": [], "end": [], "width": [], "kinds": []}
    for a, b, d in g.edges(data=True):
        edge_data["start"].append(a)
        edge_data["end"].append(b)
        edge_data["width"].append(0.4 + 0.7 * d["strength"])
        edge_data["kinds"].append(", ".join(sorted(d["ties"])))
    renderer = GraphRenderer(name="relationship-graph")
    renderer.node_renderer.data_source = ColumnDataSource(node_data, name="relationship-nodes")
    renderer.edge_renderer.data_source = ColumnDataSource(edge_data)
    style = {"size": "size", "fill_color": "color", "marker": "marker"}
    renderer.node_renderer.glyph = Scatter(**style, line_color="white", line_width=1)
    renderer.node_renderer.selection_glyph = Scatter(**style, line_color="black", line_width=3)
    renderer.node_renderer.nonselection_glyph = Scatter(**style, line_color="white", fill_alpha=0.55)
    renderer.node_renderer.hover_glyph = Scatter(**style, line_color="black", line_width=2)
    renderer.edge_renderer.glyph = MultiLine(line_width="width", line_color="#8a96a3", line_alpha=0.45)
    renderer.layout_provider = StaticLayoutProvider(graph_layout={n: st.pos[n] for n in nodes})
    renderer.selection_policy = NodesOnly()
    renderer.inspection_policy = NodesOnly()
    fig.renderers.append(renderer)
    fig.add_tools(
        HoverTool(
            renderers=[renderer.node_renderer],
            tooltips=[
                ("name", "@name"),
                ("type", "@kind"),
                ("organization", "@organization"),
                ("title", "@title"),
                ("ties", "@ties"),
            ],
        ),
        TapTool(renderers=[renderer.node_renderer]),
    )
    # the legend: one (empty) marker per type on the map
    present = sorted({sub.nodes[n]["stakeholder_type"] for n in nodes})
    # one invisible point per type, one legend item each (a single renderer: cheap to build)
    dots = fig.scatter(
        x=[math.nan] * len(present),
        y=[math.nan] * len(present),
        color=[PALETTE.get(k, "#7f7f7f") for k in present],
        marker=["square" if k == ORGANIZATION else "circle" for k in present],
        size=10,
    )
    items = [LegendItem(label=k.replace("_", " "), renderers=[dots], index=i) for i, k in enumerate(present)]
    if items:
        legend = Legend(
            items=items,
            orientation="horizontal",
            nrows=2,
            label_text_font_size="10px",
            spacing=4,
            padding=4,
            margin=2,
        )
        fig.add_layout(legend, "below")
    on_map = [n for n in path if n in keep]
    if len(on_map) > 1:
        xs = [[st.pos[a][0], st.pos[b][0]] for a, b in itertools.pairwise(path)]
        ys = [[st.pos[a][1], st.pos[b][1]] for a, b in itertools.pairwise(path)]
        fig.multi_line(xs, ys, line_width=5, line_color=PATH_COLOR, line_alpha=0.85, name="path-edges")
        px, py = [st.pos[n][0] for n in path], [st.pos[n][1] for n in path]
        fig.scatter(px, py, size=20, fill_alpha=0, line_color=PATH_COLOR, line_width=3, name="path-nodes")
        fig.text(
            px,
            py,
            text=[sub.nodes[n]["name"] if n in sub else n for n in path],
            x_offset=10,
            y_offset=-8,
            text_font_size="11px",
            text_color="#3b0a00",
        )
    return fig, renderer
