"""The path finder: "How do I reach…" from a starting person to the selected node."""

from __future__ import annotations

from typing import Any

import panel as pn
import param

from crm_workspace import CrmError

from ..model import MapModel
from .common import text
from .picker import NodePicker


class PathFinder(pn.viewable.Viewer):
    """Where to start, the buttons, and the listed steps (the map draws the path itself)."""

    model = param.ClassSelector(class_=MapModel)

    def __init__(self, **params: Any):
        super().__init__(**params)
        m = self.model
        start = m.label(m.origin).split(" (")[0] if m.origin else ""
        self.origin = NodePicker.from_param(m.param.origin, search=m.search, label="How do I reach… starting from")
        if start:
            self.origin.text = start
        self.reach = pn.widgets.Button(width=270, label="Show introduction path to the selected", color="primary")
        self.clear = pn.widgets.Button(width=270, label="Clear path", color="light")
        self.reach.on_click(lambda _e: m.reach())
        self.clear.on_click(lambda _e: m.clear_path())

    def controls(self) -> pn.Column:
        return pn.Column(self.origin, self.reach, self.clear, margin=0)

    @param.depends("model.path", "model.path_error", "model.workspace.revision")
    def listing(self) -> pn.viewable.Viewable:
        m = self.model
        if m.path_error:
            return pn.pane.Alert(text(m.path_error), alert_type="warning", sizing_mode="stretch_width")
        if len(m.path) < 2:
            return pn.pane.HTML("")
        try:
            steps = m.steps()
        except CrmError as error:
            return pn.pane.Alert(text(error), alert_type="warning")
        items = "".join(
            f"<li>{text(s['from_name'])} → <b>{text(s['to_name'])}</b>"
            f" <small>({text(s['kind'].replace('_', ' '))}, strength {s['strength']})</small></li>"
            for s in steps
        )
        return pn.pane.HTML(
            f"<div class='intro-path'><b>Introduction path</b> ({len(steps)} steps)<ol>{items}</ol></div>",
            sizing_mode="stretch_width",
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self.controls(), self.listing, sizing_mode="stretch_width")
