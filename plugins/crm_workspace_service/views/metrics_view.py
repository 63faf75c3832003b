"""Service metrics: per agent and team (business hours), backlog by age: the same frames as ws.df('service.*')."""

from __future__ import annotations

import panel as pn
import param

from crm_workspace import Workspace
from crm_workspace.errors import CrmError

from ..metrics import backlog, performance


class MetricsView(pn.viewable.Viewer):
    workspace = param.ClassSelector(class_=Workspace)
    group = param.Selector(default="assignee", objects=["assignee", "team", "priority", "channel"], doc="Per")
    days = param.Integer(default=90, bounds=(7, 365), doc="Tickets opened in the last N days")

    @param.depends("group", "days", "workspace.revision")
    def _performance(self):
        try:
            frame = performance(self.workspace, self.group, self.days)
        except CrmError as error:
            return pn.pane.Alert(str(error), alert_type="danger")
        return pn.widgets.Tabulator(frame, show_index=False, disabled=True, sizing_mode="stretch_width")

    @param.depends("workspace.revision")
    def _backlog(self):
        return pn.widgets.Tabulator(
            backlog(self.workspace), show_index=False, disabled=True, sizing_mode="stretch_width"
        )

    def __panel__(self):
        return pn.Column(
            pn.Row(
                pn.widgets.Select.from_param(self.param.group, width=140),
                pn.widgets.IntSlider.from_param(self.param.days, width=240),
            ),
            "#### First response and resolution (business hours), SLA compliance, reopen rate",
            self._performance,
            "#### Open tickets by age",
            self._backlog,
            sizing_mode="stretch_width",
        )
