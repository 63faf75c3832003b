"""The Analytics tab: totals, each campaign's funnel, people's activity per day, attribution (Bokeh, from SQL)."""

from __future__ import annotations

import html

import panel as pn
import param
from bokeh.models import ColumnDataSource, HoverTool
from bokeh.plotting import figure
from bokeh.transform import dodge

from crm_workspace import CrmError

from ..model import MachineRules, MarketingModel
from .common import alert, table
from .settings import RulesCard

SERIES = (
    ("delivered", "#9ecae1"),
    ("unique_opens", "#3182bd"),
    ("unique_clicks", "#08519c"),
    ("unsubscribes", "#e6550d"),
)


def campaigns_figure(frame):
    names = [str(n) for n in frame["name"]] or ["-"]
    source = ColumnDataSource({"name": names, **{k: list(frame[k]) if len(frame) else [0] for k, _c in SERIES}})
    fig = figure(
        x_range=names,
        height=440,
        sizing_mode="stretch_width",
        title="Per campaign (people only)",
        toolbar_location=None,
        tools="",
    )
    width = 0.8 / len(SERIES)
    for i, (key, color) in enumerate(SERIES):
        offset = -0.4 + width * (i + 0.5)
        fig.vbar(
            x=dodge("name", offset, range=fig.x_range),
            top=key,
            width=width * 0.9,
            source=source,
            color=color,
            legend_label=key.replace("_", " "),
        )
    fig.add_tools(HoverTool(tooltips=[("campaign", "@name"), *[(k.replace("_", " "), f"@{k}") for k, _ in SERIES]]))
    legend_above(fig)
    fig.xaxis.major_label_orientation = 0.9  # long campaign names stay apart on a phone
    return fig


def legend_above(fig) -> None:
    """The legend above the plot in two columns: it never covers a bar or a line, and fits a phone."""
    legend = fig.legend[0]
    legend.orientation, legend.ncols, legend.location = "horizontal", 2, "top_left"
    fig.add_layout(legend, "above")


def daily_figure(frame):
    fig = figure(
        x_axis_type="datetime",
        height=300,
        sizing_mode="stretch_width",
        title="People's activity per day (last 120 days)",
        toolbar_location=None,
        tools="",
    )
    if len(frame):
        import pandas as pd

        data = frame.assign(day=pd.to_datetime(frame["day"]))
        source = ColumnDataSource(data)
        for key, color in (
            ("unique_opens", "#3182bd"),
            ("clicks", "#08519c"),
            ("signups", "#31a354"),
            ("unsubscribes", "#e6550d"),
        ):
            fig.line("day", key, source=source, color=color, legend_label=key.replace("_", " "), line_width=2)
        legend_above(fig)
    return fig


class AnalyticsTab(pn.viewable.Viewer):
    model = param.ClassSelector(class_=MarketingModel)

    def _body(self, _revision=None):
        try:
            totals = self.model.totals()
            stats = self.model.campaigns()
            daily = self.model.daily()
            attribution = self.model.attribution()
        except CrmError as error:
            return alert(str(error))
        cards = "".join(
            f"<div class='mk-total'><div class='mk-total-value'>{value:,}</div>"
            f"<div class='mk-total-label'>{html.escape(label.replace('_', ' '))}</div></div>"
            for label, value in totals.items()
        )
        style = (
            "<style>.mk-totals{display:flex;gap:12px;flex-wrap:wrap}.mk-total{border:1px solid #ddd;"
            "border-radius:6px;padding:8px 14px;min-width:110px}.mk-total-value{font-size:1.5em;font-weight:600}"
            ".mk-total-label{color:#666}</style>"
        )
        return pn.Column(
            pn.pane.HTML(f"{style}<div class='mk-totals'>{cards}</div>", sizing_mode="stretch_width"),
            pn.pane.Bokeh(campaigns_figure(stats), sizing_mode="stretch_width"),
            pn.pane.Bokeh(daily_figure(daily), sizing_mode="stretch_width"),
            pn.pane.Markdown(
                "**Influenced deals and revenue** (first and last touch: people's opens and clicks "
                "up to 90 days before the deal; revenue of won deals)"
            ),
            table(attribution.drop(columns=["id"], errors="ignore"), height=200),  # the campaign's name, not its id
            sizing_mode="stretch_width",
        )

    def __panel__(self):
        rules = RulesCard(rules=MachineRules(workspace=self.model.workspace))
        return pn.Column(pn.bind(self._body, self.model.workspace.param.revision), rules, sizing_mode="stretch_width")
