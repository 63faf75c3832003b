"""The org chart tab: who reports to whom inside one organization."""

from __future__ import annotations

from typing import Any

import panel as pn
import param

from ..model import OrgChartModel
from .common import text


def org_chart_html(roots: list[dict[str, Any]]) -> str:
    """Nested lists for an org chart (every name and title escaped)."""

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


class OrgChartView(pn.viewable.Viewer):
    """Choose an organization, see its reporting tree (refreshes with the data)."""

    model = param.ClassSelector(class_=OrgChartModel)

    def __init__(self, **params: Any):
        super().__init__(**params)
        self.organization = pn.widgets.Select.from_param(self.model.param.organization_id)

    @param.depends("model.organization_id", "model.workspace.revision")
    def chart(self) -> pn.viewable.Viewable:
        if self.model.organization_id is None:
            return pn.pane.Markdown("Choose an organization to see who reports to whom.")
        return pn.pane.HTML(org_chart_html(self.model.roots()), sizing_mode="stretch_width")

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self.organization, self.chart)
