"""The forecast view: weighted pipeline by month and by owner, key figures, slipped deals."""

from __future__ import annotations

import html
from typing import Any

import panel as pn
import param
from bokeh.models import ColumnDataSource, NumeralTickFormatter
from bokeh.plotting import figure

from crm_workspace.web.display import day, when_html
from crm_workspace.web.list_table import ListTable

from ..model import PipelineModel
from ..values import DEFAULT_CURRENCY, money

#: the slipped deals' columns as a person reads them
SLIPPED_TITLES = {
    "deal_id": "Deal #",
    "title": "Deal",
    "owner": "Owner",
    "stage": "Stage",
    "was": "Was due",
    "now": "Now due",
    "days_slipped": "Days later",
    "changed_at": "Changed",
    "changed_by": "By",
}


class Forecast(pn.viewable.Viewer):
    """Weighted pipeline by month and by owner, win rate, deal size, cycle length, slipped deals."""

    model = param.ClassSelector(class_=PipelineModel)

    def _kpis(self) -> pn.viewable.Viewable:
        k = self.model.kpis()
        currency = self.model.workspace.setting("currency", DEFAULT_CURRENCY)

        def fmt(value: Any, pattern: str) -> str:
            return "—" if value is None else pattern.format(value)

        cards = [
            ("Win rate", fmt(k["win_rate"], "{:.0%}")),
            ("Average won deal", money(k["avg_deal_size"], currency) or "—"),
            ("Average sales cycle", fmt(k["avg_cycle_days"], "{:.0f} days")),
            ("Open pipeline", money(k["open_amount"], currency) or "—"),
            ("Weighted pipeline", money(k["weighted"], currency) or "—"),
        ]
        return pn.FlexBox(
            *[
                pn.pane.HTML(
                    f"<div class='pl-kpi'><div style='color:#5f6b7a;font-size:12px'>{html.escape(label)}</div>"
                    f"<div style='font-size:22px;font-weight:600'>{html.escape(value)}</div></div>",
                    styles={"border": "1px solid #e3e6ea", "border-radius": "8px", "padding": "6px 12px"},
                )
                for label, value in cards
            ]
        )

    def _by_month(self) -> pn.pane.Bokeh:
        frame = self.model.forecast_by_month()
        months = [str(m) for m in frame["month"]]
        plot = figure(
            x_range=months or ["(none)"],
            height=280,
            sizing_mode="stretch_width",
            title="Open pipeline by expected-close month",
            toolbar_location=None,
            tools="hover",
            tooltips=[
                ("month", "@month"),
                ("deals", "@deals"),
                ("amount", "@amount{0,0}"),
                ("weighted", "@weighted{0,0}"),
            ],
        )
        source = ColumnDataSource(frame.assign(month=months))
        plot.vbar(x="month", top="amount", width=0.8, source=source, color="#c9d6e3", legend_label="amount")
        plot.vbar(x="month", top="weighted", width=0.5, source=source, color="#1f4e79", legend_label="weighted")
        plot.xaxis.major_label_orientation = 0.9
        plot.yaxis.formatter = NumeralTickFormatter(format="0,0")
        plot.legend.location = "top_left"
        return pn.pane.Bokeh(plot, sizing_mode="stretch_width")

    def _by_owner(self) -> pn.pane.Bokeh:
        frame = self.model.forecast_by_owner()
        owners = [str(o) for o in frame["owner"]][::-1]
        plot = figure(
            y_range=owners or ["(none)"],
            height=max(160, 40 * len(owners) + 60),
            sizing_mode="stretch_width",
            title="Weighted pipeline by owner",
            toolbar_location=None,
            tools="hover",
            tooltips=[("owner", "@owner"), ("deals", "@deals"), ("weighted", "@weighted{0,0}")],
        )
        plot.hbar(
            y="owner",
            right="weighted",
            height=0.7,
            source=ColumnDataSource(frame.assign(owner=frame["owner"].astype(str))),
            color="#1f4e79",
        )
        plot.xaxis.formatter = NumeralTickFormatter(format="0,0")
        return pn.pane.Bokeh(plot, sizing_mode="stretch_width")

    def _slipped(self) -> pn.viewable.Viewable:
        frame = self.model.slipped()
        if frame.empty:
            return pn.pane.Markdown("No slipped deals: no expected close date has been pushed later.")
        frame = frame.assign(
            changed_at=[when_html(v) for v in frame["changed_at"]],
            was=[day(v) for v in frame["was"]],
            now=[day(v) for v in frame["now"]],
        )
        return ListTable(
            frame,
            titles=SLIPPED_TITLES,
            formatters={"changed_at": "html"},
            page_size=10,
            sizing_mode="stretch_width",
        )

    def view(self, *_args: Any) -> pn.viewable.Viewable:
        return pn.Column(
            self._kpis(),
            pn.Row(self._by_month(), self._by_owner(), sizing_mode="stretch_width"),
            pn.pane.Markdown("#### Slipped deals (expected close pushed later)"),
            self._slipped(),
            sizing_mode="stretch_width",
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return self.view()
