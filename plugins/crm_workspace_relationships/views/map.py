"""The map itself (a Bokeh network the user clicks) and the side panel of the clicked node.

The graph comes from the cache in ``network``; the browser receives only the focus, its
rings and the expanded nodes' neighbours (``focus.focus_drawing``, at most ``FOCUS_LIMIT``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import panel as pn
import param

from crm_workspace import CrmError

from ..model import MapModel
from ..queries import parse_node
from .common import text
from .editor import RelationshipEditor
from .figure import MAP_HEIGHT, map_figure


class MapView(pn.viewable.Viewer):
    """The network of the model's filtered graph; a click on a node selects it."""

    model = param.ClassSelector(class_=MapModel)

    def __init__(self, **params: Any):
        super().__init__(**params)
        self._nodes: list[str] = []
        self._renderer = None

    @param.depends(*(f"model.{name}" for name in MapModel.DRAWN_BY), "model.workspace.revision")
    def _map(self) -> pn.viewable.Viewable:
        m = self.model
        try:
            drawn = m.drawing()
        except CrmError as error:
            return pn.pane.Alert(text(error), alert_type="warning")
        self._nodes = nodes = drawn.nodes
        if not nodes:
            return pn.pane.Markdown("Nothing matches these filters.")
        fig, renderer = map_figure(m.state(), drawn, m.path, m.selected)
        self._renderer = renderer
        if m.selected in nodes:
            renderer.node_renderer.data_source.selected.indices = [nodes.index(m.selected)]
        renderer.node_renderer.data_source.selected.on_change("indices", self._on_tap)
        return pn.pane.Bokeh(fig, sizing_mode="stretch_width", min_height=MAP_HEIGHT)

    def _on_tap(self, _attr, _old, new) -> None:
        """A click on a node selects it and grows the map by its neighbours."""
        if new:
            node = self._nodes[new[0]] if new[0] < len(self._nodes) else None
            if node and (node != self.model.selected or node not in self.model.expanded):
                self.model.tap(node)

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.panel(self._map)


class SidePanel(pn.viewable.Viewer):
    """The selected node's record card, a way onward, and its relationship editor."""

    model = param.ClassSelector(class_=MapModel)
    show_chart = param.Callable(doc="organization id -> show its org chart")

    @param.depends("model.selected", "model.workspace.revision")
    def _record(self) -> pn.viewable.Viewable:
        """The selected record's card (refreshes with the data)."""
        m = self.model
        data = m.record()
        if data is None:
            return pn.pane.Markdown("This record no longer exists." if m.selected else "")
        row, is_contact = data["row"], data["table"] == "contacts"
        facts = [
            ("Type", data["stakeholder_type"]),
            ("Organization", data["organization"] if is_contact else ""),
        ]
        facts += [("Title", row.get("title")), ("Email", row.get("email")), ("Phone", row.get("phone"))]
        facts += [("Industry", row.get("industry")), ("City", row.get("city"))]
        rows_html = "".join(f"<tr><th>{k}</th><td>{text(v)}</td></tr>" for k, v in facts if v)
        return pn.pane.HTML(
            f"<div class='rel-record'><h3>{text(data['name'])}</h3><table>{rows_html}</table></div>",
            sizing_mode="stretch_width",
        )

    @param.depends("model.selected")
    def _side(self) -> pn.viewable.Viewable:
        """Record card, navigation and the relationship editor (which refreshes itself, keeping its form)."""
        m = self.model
        if not m.selected:
            return pn.pane.Markdown("*Click a node (or search) to see its record and relationships.*")
        table, row_id = parse_node(m.selected)
        items: list[Any] = [self._record]
        if table == "contacts":
            button = pn.widgets.Button(label="Open contact page", color="primary")
            button.on_click(_call(m.workspace.open_page, "contacts", id=row_id))
        else:
            button = pn.widgets.Button(label="Show org chart", color="light")
            button.on_click(_call(self.show_chart, row_id))
        items.append(button)
        if m.selected != m.focus:
            centre = pn.widgets.Button(label="Centre the map here", color="light")
            centre.on_click(_call(m.focus_on, m.selected))
            items.append(centre)
        items.append(RelationshipEditor(workspace=m.workspace, node=m.selected))
        return pn.Column(*items, sizing_mode="stretch_width")

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.panel(self._side)


def _call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[[Any], None]:
    """A click handler that calls ``fn(*args, **kwargs)``, ignoring the event."""
    return lambda _event: fn(*args, **kwargs)
