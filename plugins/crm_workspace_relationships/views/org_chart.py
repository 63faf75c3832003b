"""The org chart tab: who reports to whom inside one organization, drawn as a top-down tree."""

from __future__ import annotations

from typing import Any

import panel as pn
import param

from crm_workspace.web.pickers import RecordPicker

from ..layout import CHAR_WIDTH, tree_layout
from ..model import OrgChartModel
from .common import text

ORG_CHART_NAME = "org-chart"
#: one box per slot: pixels per slot and per layer, and the box inside them
SLOT, LAYER = 180, 96
BOX_WIDTH, BOX_HEIGHT = 0.88, 0.58


def org_chart_html(roots: list[dict[str, Any]]) -> str:
    """Nested lists for an org chart (every name and title escaped): the chart as text."""

    def render(nodes: list[dict[str, Any]]) -> str:
        items = "".join(
            f"<li><span class='org-person'>{text(n['name'])}</span>"
            f"{' <small>' + text(n['title']) + '</small>' if n['title'] else ''}"
            f"{render(n['children']) if n['children'] else ''}</li>"
            for n in nodes
        )
        return f"<ul>{items}</ul>"

    if not roots:
        return "<p>No people in this organization.</p>"
    return f"<div class='org-chart'>{render(roots)}</div>"


def _fit(value: str, pixels: float) -> str:
    """``value`` shortened with an ellipsis to fit ``pixels`` of the chart's font."""
    room = max(3, int(pixels / CHAR_WIDTH))
    return value if len(value) <= room else value[: room - 1] + "…"


def org_chart_figure(roots: list[dict[str, Any]]) -> Any:
    """Boxes (name, title) joined by elbow connectors, managers above their reports.

    One slot of ``SLOT`` pixels per box, so the figure is as wide as the widest layer
    (it scrolls sideways in the page); people with no reporting line are grey boxes in
    rows below the trees. Names reach the browser only as Bokeh data.
    """
    from bokeh.models import ColumnDataSource, HoverTool, Range1d, TapTool
    from bokeh.plotting import figure

    pos = tree_layout(roots)
    people: list[dict[str, Any]] = []
    edges_x: list[list[float]] = []
    edges_y: list[list[float]] = []

    def walk(node: dict[str, Any]) -> None:
        people.append(node)
        x, depth = pos[node["id"]]
        for child in node["children"]:
            cx, cdepth = pos[child["id"]]
            mid = -(depth + cdepth) / 2
            edges_x.append([x, x, cx, cx])
            edges_y.append([-depth - BOX_HEIGHT / 2, mid, mid, -cdepth + BOX_HEIGHT / 2])
            walk(child)

    for root in roots:
        walk(root)
    root_ids = {r["id"] for r in roots}

    def loose(person: dict[str, Any]) -> bool:
        return person["id"] in root_ids and not person["children"]

    slots = max((x for x, _ in pos.values()), default=0) + 1
    layers = max((d for _, d in pos.values()), default=0) + 1
    fig = figure(
        name=ORG_CHART_NAME,
        width=int(max(slots * SLOT, 360)),
        height=int(layers * LAYER + 20),
        x_range=Range1d(-0.5, max(slots, 2) - 0.5),
        y_range=Range1d(-layers + 0.5 - 0.1, 0.5 + 0.1),
        tools="",
        toolbar_location=None,
        min_border=0,
        outline_line_color=None,
    )
    fig.axis.visible = False
    fig.grid.visible = False
    fig.multi_line(edges_x, edges_y, line_color="#8a96a3", line_width=1.5, name="org-chart-links")
    source = ColumnDataSource(
        {
            "id": [p["id"] for p in people],
            "x": [pos[p["id"]][0] for p in people],
            "y": [-pos[p["id"]][1] for p in people],
            "name": [p["name"] for p in people],
            "title": [p["title"] for p in people],
            "short_name": [_fit(p["name"], SLOT * BOX_WIDTH - 10) for p in people],
            "short_title": [_fit(p["title"], SLOT * BOX_WIDTH - 10) for p in people],
            "line": ["No reporting line recorded" if loose(p) else "" for p in people],
            "fill": ["#f6f7f8" if loose(p) else "#eef3f8" for p in people],
            "edge": ["#9aa5b1" if loose(p) else "#1f4e79" for p in people],
        },
        name="org-chart-people",
    )
    boxes = fig.rect(
        "x",
        "y",
        width=BOX_WIDTH,
        height=BOX_HEIGHT,
        source=source,
        fill_color="fill",
        line_color="edge",
        line_width=1.5,
        name="org-chart-boxes",
    )
    fig.text(
        "x",
        "y",
        text="short_name",
        source=source,
        y_offset=-7,
        text_align="center",
        text_baseline="middle",
        text_font_size="12px",
        text_font_style="bold",
        text_color="#1b2733",
    )
    fig.text(
        "x",
        "y",
        text="short_title",
        source=source,
        y_offset=10,
        text_align="center",
        text_baseline="middle",
        text_font_size="10px",
        text_color="#51606e",
    )
    fig.add_tools(
        HoverTool(renderers=[boxes], tooltips=[("name", "@name"), ("title", "@title"), ("", "@line")]),
        TapTool(renderers=[boxes]),
    )
    return fig


class OrgChartView(pn.viewable.Viewer):
    """Choose an organization, see its reporting tree (refreshes with the data); a click on a
    box opens that person's page."""

    model = param.ClassSelector(class_=OrgChartModel)

    def __init__(self, **params: Any):
        super().__init__(**params)
        self.organization = RecordPicker.from_param(
            self.model.param.organization_id,
            choices=self.model.organization_choices,
            none_label="(choose an organization)",
        )
        self._ids: list[int] = []

    @param.depends("model.organization_id", "model.workspace.revision")
    def chart(self) -> pn.viewable.Viewable:
        if self.model.organization_id is None:
            return pn.pane.Markdown("Choose an organization to see who reports to whom.")
        roots = self.model.roots()
        if not roots:
            return pn.pane.Markdown("No people in this organization.")
        fig = org_chart_figure(roots)
        people = next(r for r in fig.renderers if r.name == "org-chart-boxes").data_source
        self._ids = list(people.data["id"])
        people.selected.on_change("indices", self._on_tap)
        return pn.Column(
            pn.pane.Bokeh(fig), sizing_mode="stretch_width", styles={"overflow-x": "auto"}, css_classes=["org-chart"]
        )

    def _on_tap(self, _attr, _old, new) -> None:
        if new and new[0] < len(self._ids):
            self.model.workspace.open_page("contacts", id=int(self._ids[new[0]]))

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self.organization, self.chart, sizing_mode="stretch_width")
