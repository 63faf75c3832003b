"""The map's Bokeh figure: nodes at their cached positions, ties, a legend, the path in red.

Text from the database reaches the browser only as Bokeh data (tooltips escape it).
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from ..focus import FocusDrawing
from ..layout import place_labels
from ..network import ORGANIZATION, GraphState

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


#: the map's height in pixels (about 70% of a laptop screen) and its plot area inside it
MAP_HEIGHT = 680
FRAME_HEIGHT = MAP_HEIGHT - 110  # minus the toolbar above and the legend below
NODE_SIZE_MAX = 34.0
MARGIN = 30.0


def node_size(ties: int) -> float:
    return min(NODE_SIZE_MAX, 7 + 2.2 * math.sqrt(ties))


def map_scale(pos: dict[str, tuple[float, float]]) -> tuple[float, float]:
    """``(half_span, pixels_per_unit)``: the square the ranges show around the focus and the
    scale it is drawn at (the plot is at least as wide as it is high, so height decides).

    The square leaves ``MARGIN`` pixels beyond the outermost node for its dot and its label.
    """
    extent = max((max(abs(x), abs(y)) for x, y in pos.values()), default=0.0)
    half_span = max(extent / (1 - 2 * MARGIN / FRAME_HEIGHT), 120.0)
    return half_span, FRAME_HEIGHT / (2 * half_span)


def labelled_nodes(drawn: FocusDrawing, selected: str | None, path: list[str]) -> list[str]:
    """Whose names are written on the map, most important first: the focus, the selection,
    the expanded nodes, the path, the first ring by number of ties, then the expanded nodes'
    neighbours (where room is left; every other name shows on hover)."""

    def ring(node: str) -> list[str]:
        return sorted(drawn.graph.neighbors(node), key=lambda n: -drawn.graph.degree(n))

    grown = [n for e in drawn.expanded for n in ring(e)]
    wanted = [drawn.focus, selected, *drawn.expanded, *path, *ring(drawn.focus), *grown]
    return [n for n in dict.fromkeys(wanted) if n and n in drawn.graph]


def map_figure(st: GraphState, drawn: FocusDrawing, path: list[str], selected: str | None = None) -> tuple[Any, Any]:
    """The Bokeh figure of a focused drawing, with ``path`` highlighted and names that never overlap."""
    from bokeh.models import (
        ColumnDataSource,
        DataRange1d,
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

    sub, nodes, pos = drawn.graph, drawn.nodes, drawn.pos
    half_span, scale = map_scale(pos)
    fig = figure(
        name=MAP_NAME,
        tools="pan,wheel_zoom,box_zoom,reset,save",
        active_scroll="wheel_zoom",
        sizing_mode="stretch_width",
        height=MAP_HEIGHT,
        match_aspect=True,
        x_range=DataRange1d(range_padding=0),  # the frame below, widened to the screen's aspect
        y_range=DataRange1d(range_padding=0),
        toolbar_location="above",
        min_border=0,
        x_axis_type=None,  # no axes nor grids: positions mean nothing here (and each is a dozen models)
        y_axis_type=None,
    )
    # an invisible square frame around the rings: the starting zoom ``map_scale`` assumes
    corners = [-half_span, half_span, half_span, -half_span]
    fig.scatter(corners, corners[1:] + corners[:1], size=1, alpha=0, name="map-frame")
    importance = st.importance
    node_data: dict[str, list] = {k: [] for k in ("index", "name", "kind", "organization", "title", "ties")}
    node_data.update(color=[], size=[], marker=[], line=[])
    for n in nodes:
        d = sub.nodes[n]
        node_data["index"].append(n)
        node_data["name"].append(d["name"])
        node_data["kind"].append(d["stakeholder_type"])
        node_data["organization"].append(d["organization"] or "")
        node_data["title"].append(d["title"] or "")
        node_data["ties"].append(importance.get(n, 0))
        node_data["color"].append(PALETTE.get(d["stakeholder_type"], "#7f7f7f"))
        node_data["size"].append(node_size(importance.get(n, 0)))
        node_data["marker"].append("square" if d["table"] == "organizations" else "circle")
        node_data["line"].append("#111111" if n == drawn.focus or n in drawn.expanded else "white")
    edge_data: dict[str, list] = {"start": [], "end": [], "width": [], "kinds": []}
    for a, b, d in sub.edges(data=True):
        edge_data["start"].append(a)
        edge_data["end"].append(b)
        edge_data["width"].append(0.4 + 0.7 * d["strength"])
        edge_data["kinds"].append(", ".join(sorted(d["ties"])))
    renderer = GraphRenderer(name="relationship-graph")
    renderer.node_renderer.data_source = ColumnDataSource(node_data, name="relationship-nodes")
    renderer.edge_renderer.data_source = ColumnDataSource(edge_data)
    style = {"size": "size", "fill_color": "color", "marker": "marker"}
    renderer.node_renderer.glyph = Scatter(**style, line_color="line", line_width=2)
    renderer.node_renderer.selection_glyph = Scatter(**style, line_color="black", line_width=3)
    renderer.node_renderer.nonselection_glyph = Scatter(**style, line_color="line", fill_alpha=0.55)
    renderer.node_renderer.hover_glyph = Scatter(**style, line_color="black", line_width=2)
    renderer.edge_renderer.glyph = MultiLine(line_width="width", line_color="#8a96a3", line_alpha=0.45)
    renderer.layout_provider = StaticLayoutProvider(graph_layout={n: pos[n] for n in nodes})
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
    _draw_labels(fig, drawn, labelled_nodes(drawn, selected, path), scale, importance)
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
            items=items, orientation="horizontal", nrows=2, label_text_font_size="10px", spacing=4, padding=4, margin=2
        )
        fig.add_layout(legend, "below")
    on_map = [n for n in path if n in pos]
    if len(on_map) > 1:
        xs = [[pos[a][0], pos[b][0]] for a, b in itertools.pairwise(on_map)]
        ys = [[pos[a][1], pos[b][1]] for a, b in itertools.pairwise(on_map)]
        fig.multi_line(xs, ys, line_width=5, line_color=PATH_COLOR, line_alpha=0.85, name="path-edges")
        px, py = [pos[n][0] for n in on_map], [pos[n][1] for n in on_map]
        fig.scatter(px, py, size=20, fill_alpha=0, line_color=PATH_COLOR, line_width=3, name="path-nodes")
    return fig, renderer


def _draw_labels(fig: Any, drawn: FocusDrawing, wanted: list[str], scale: float, importance: dict) -> None:
    """Names beside the wanted nodes, each where ``layout.place_labels`` found room."""
    names = {n: drawn.graph.nodes[n]["name"] for n in wanted}
    radii = {n: node_size(importance.get(n, 0)) / 2 + 2 for n in drawn.pos}
    placed = place_labels(drawn.pos, names, wanted, scale=scale, radii=radii)
    data: dict[str, list] = {"x": [], "y": [], "text": [], "align": [], "dx": [], "dy": [], "weight": []}
    for n, (align, dx, dy) in placed.items():
        data["x"].append(drawn.pos[n][0])
        data["y"].append(drawn.pos[n][1])
        data["text"].append(names[n])
        data["align"].append(align)
        data["dx"].append(dx)
        data["dy"].append(-dy)  # screen offsets grow downwards
        data["weight"].append("bold" if n == drawn.focus else "normal")
    from bokeh.models import ColumnDataSource

    fig.text(
        x="x",
        y="y",
        text="text",
        x_offset="dx",
        y_offset="dy",
        text_align="align",
        text_baseline="middle",
        text_font_size="11px",
        text_font_style="weight",
        text_color="#1b2733",
        source=ColumnDataSource(data, name="relationship-labels"),
        name="relationship-labels",
    )
