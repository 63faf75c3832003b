"""Service metrics: per agent and team (business hours), backlog by age: the same frames as ws.df('service.*')."""

from __future__ import annotations

import panel as pn
import param
from bokeh.models import ColumnDataSource, HoverTool
from bokeh.plotting import figure

from crm_workspace import Workspace
from crm_workspace.errors import CrmError
from crm_workspace.web.list_table import ListTable

from ..metrics import backlog, performance

PRIORITY_COLORS = {"urgent": "#b42318", "high": "#e8772e", "normal": "#2f7de1", "low": "#9fb4cc"}


def response_figure(frame, group: str):
    """First response and resolution, median (dark) and p90 (light), business hours per agent or team."""
    names = [str(v) for v in frame[group]] or ["-"]
    data = {c: list(frame[c].fillna(0)) for c in frame.columns if c.endswith("_h")}
    source = ColumnDataSource({"name": names, **data} if len(frame) else {"name": ["-"], **{k: [0] for k in data}})
    fig = figure(
        y_range=list(reversed(names)),
        height=34 * len(names) + 90,
        sizing_mode="stretch_width",
        toolbar_location=None,
        tools="",
        title="First response, business hours: median (dark) and p90",
    )
    fig.hbar(y="name", right="first_response_p90_h", height=0.7, source=source, color="#c6dbef")
    fig.hbar(y="name", right="first_response_median_h", height=0.4, source=source, color="#08519c")
    fig.add_tools(
        HoverTool(
            tooltips=[
                ("", "@name"),
                ("median h", "@first_response_median_h"),
                ("p90 h", "@first_response_p90_h"),
                ("resolution median h", "@resolution_median_h"),
            ]
        )
    )
    return fig


def backlog_figure(frame):
    ages = [a.split(": ", 1)[-1] for a in frame["age"]] or ["-"]
    priorities = list(PRIORITY_COLORS)
    source = ColumnDataSource({"age": ages, **{p: list(frame[p]) if len(frame) else [0] for p in priorities}})
    fig = figure(
        x_range=ages,
        height=260,
        sizing_mode="stretch_width",
        toolbar_location=None,
        tools="",
        title="Open tickets by age and priority",
    )
    fig.vbar_stack(
        priorities, x="age", width=0.7, color=list(PRIORITY_COLORS.values()), source=source, legend_label=priorities
    )
    fig.legend.location = "top_right"
    return fig


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
        return pn.Column(
            pn.pane.Bokeh(response_figure(frame, self.group), sizing_mode="stretch_width"),
            ListTable(frame, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )

    @param.depends("workspace.revision")
    def _backlog(self):
        frame = backlog(self.workspace)
        return pn.Column(
            pn.pane.Bokeh(backlog_figure(frame), sizing_mode="stretch_width"),
            ListTable(frame, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )

    def __panel__(self):
        return pn.Column(
            pn.Row(
                pn.widgets.Select.from_param(self.param.group, width=140, description=None),
                pn.widgets.IntSlider.from_param(self.param.days, width=240),
            ),
            "#### First response and resolution (business hours), SLA compliance, reopen rate",
            self._performance,
            "#### Open tickets by age",
            self._backlog,
            sizing_mode="stretch_width",
        )
