"""The "Satisfaction" page (CSAT %, NPS, charts, per agent and team, answers, churn risk) and a contact's section."""

from __future__ import annotations

import html

import panel as pn
import param
from bokeh.models import ColumnDataSource, HoverTool
from bokeh.plotting import figure

from crm_workspace import Workspace
from crm_workspace.web.display import BARS_CSS, bars_html, day, html_table, label, when_html

from . import metrics, rules

E = html.escape
NPS_COLORS = ["#d7301f"] * 7 + ["#fdae61"] * 2 + ["#1a9850"] * 2


def _num(value, fmt="{:.1f}") -> str:
    return "—" if value is None else fmt.format(value)


def weekly_figure(rows: list[dict]):
    weeks = [day(r["week"]) for r in rows]  # "31 Aug 2026", not an ISO date
    source = ColumnDataSource(
        {
            "week": weeks,
            "csat": [r["csat_pct"] for r in rows],
            "nps": [r["nps"] for r in rows],
            "answers": [r["csat_answers"] for r in rows],
        }
    )
    fig = figure(
        x_range=weeks or ["-"], height=260, sizing_mode="stretch_width",
        title="CSAT % and NPS by week", toolbar_location=None, tools="",
    )  # fmt: skip
    fig.line("week", "csat", source=source, line_width=2, color="#1f77b4", legend_label="CSAT %")
    fig.scatter("week", "csat", source=source, size=6, color="#1f77b4")
    fig.line("week", "nps", source=source, line_width=2, color="#2ca02c", legend_label="NPS")
    fig.add_tools(
        HoverTool(tooltips=[("week", "@week"), ("CSAT %", "@csat"), ("NPS", "@nps"), ("CSAT answers", "@answers")])
    )
    fig.xaxis.major_label_orientation = 0.8
    fig.legend.location = "bottom_left"
    return fig


def distribution_html(rows: list[dict]) -> str:
    """NPS answers by score, 0 to 10, detractors red, passives amber, promoters green (plain HTML bars)."""
    colours = dict(zip(range(11), NPS_COLORS, strict=True))
    bars = [(r["score"], int(r["answers"]), colours.get(r["score"])) for r in rows]
    return bars_html(bars, title="NPS answers by score", caption="score", unit="answers")


#: open churn-risk flags listed on the page, the latest first (at 100k contacts there were 4,143: 0.6 s of
#: HTML to build and send with every load; ``ws.df("surveys.churn_risk")`` has them all)
FLAGS_SHOWN = 50
#: what a blank cell of these columns means
BLANK = {"agent": "Unassigned", "team": "No team"}


def table_html(rows: list[dict], columns: list[tuple[str, str]], css: str) -> str:
    """Rows as the core's escaped table: a blank agent reads "Unassigned", a stage in words, CSAT as a
    percentage, times humanised (the exact time on hover)."""
    shown = [
        {
            **r,
            **{k: v for k, v in BLANK.items() if r.get(k) in (None, "")},
            "lifecycle_stage": label(r.get("lifecycle_stage")),
            **({"csat_pct": _num(r["csat_pct"], "{:.1f} %")} if "csat_pct" in r else {}),  # "87.8 %", not "87.80"
        }
        for r in rows
    ]
    headers = [(key, title[:1].upper() + title[1:]) for key, title in columns]
    return html_table(shown, headers, empty="Nothing yet.", css=css)


class SatisfactionPage(pn.viewable.Viewer):
    workspace = param.ClassSelector(class_=Workspace)
    days = param.Selector(default=90, objects=[30, 90, 365])

    def __init__(self, **params):
        super().__init__(**params)
        self.period = pn.widgets.RadioButtonGroup.from_param(self.param.days, label="Days")
        self.cards = pn.pane.HTML(css_classes=["sv-cards"], sizing_mode="stretch_width")
        self.charts = pn.Row(sizing_mode="stretch_width")
        self.by_agent = pn.pane.HTML(sizing_mode="stretch_width")
        self.by_team = pn.pane.HTML(sizing_mode="stretch_width")
        self.answers = pn.pane.HTML(sizing_mode="stretch_width")
        self.flags = pn.pane.HTML(sizing_mode="stretch_width")
        self.workspace.param.watch(lambda _e: self._refresh(), "revision")
        self._refresh()

    @param.depends("days", watch=True)
    def _refresh(self) -> None:
        ws, days = self.workspace, self.days
        overall = (metrics.summary(ws, None, days) or [{}])[0]
        self.cards.object = (
            f"<div class='sv-card'><b>CSAT</b> <span class='sv-csat'>{_num(overall.get('csat_pct'), '{:.1f} %')}</span>"
            f" ({int(overall.get('csat_answers') or 0)} answers)</div>"
            f"<div class='sv-card'><b>NPS</b> <span class='sv-nps'>{_num(overall.get('nps'), '{:+.0f}')}</span>"
            f" ({int(overall.get('nps_answers') or 0)} answers)</div>"
        )
        self.charts.objects = [
            pn.pane.Bokeh(weekly_figure(metrics.weekly(ws, days)), sizing_mode="stretch_width"),
            pn.pane.HTML(
                distribution_html(metrics.distribution(ws, days)), stylesheets=[BARS_CSS], sizing_mode="stretch_width"
            ),
        ]
        cols = [("csat_answers", "CSAT answers"), ("csat_pct", "CSAT %")]
        self.by_agent.object = table_html(metrics.summary(ws, "agent", days), [("agent", "agent"), *cols], "sv-agents")
        self.by_team.object = table_html(metrics.summary(ws, "team", days), [("team", "team"), *cols], "sv-teams")
        recent = metrics.responses(ws, None, days, 50)
        for r in recent:
            r["answer"] = rules.describe(r)
        self.answers.object = table_html(
            recent,
            [("responded_at", "when"), ("contact", "contact"), ("answer", "answer"), ("comment", "comment"),
             ("assignee", "agent")],
            "sv-answers",
        )  # fmt: skip
        flagged = metrics.churn_risk_count(ws)
        latest = "" if flagged <= FLAGS_SHOWN else f"<p>{flagged:,} contacts flagged; the {FLAGS_SHOWN} latest:</p>"
        self.flags.object = latest + table_html(
            metrics.churn_risk(ws, FLAGS_SHOWN),
            [("contact", "contact"), ("email", "e-mail"), ("lifecycle_stage", "stage"), ("reason", "why"),
             ("flagged_at", "since")],
            "sv-flags",
        )  # fmt: skip

    def __panel__(self):
        return pn.Column(
            pn.pane.HTML("<h2>Satisfaction</h2>"),
            self.period,
            self.cards,
            self.charts,
            pn.Row(
                pn.Column(pn.pane.HTML("<h3>CSAT by agent</h3>"), self.by_agent),
                pn.Column(pn.pane.HTML("<h3>CSAT by team</h3>"), self.by_team),
                sizing_mode="stretch_width",
            ),
            pn.pane.HTML("<h3>Churn risk from surveys</h3>"),
            self.flags,
            pn.pane.HTML("<h3>Latest answers</h3>"),
            self.answers,
            sizing_mode="stretch_width",
        )


class ContactSection(pn.viewable.Viewer):
    """A contact's survey answers and open churn-risk flag, with "Clear flag" for members and admins."""

    workspace = param.ClassSelector(class_=Workspace)
    contact_id = param.Integer()

    def __init__(self, **params):
        super().__init__(**params)
        self.body = pn.pane.HTML(sizing_mode="stretch_width")
        self.clear = pn.widgets.Button(label="Clear churn-risk flag", disabled=self.workspace.read_only)
        self.clear.on_click(self._clear)
        self._refresh()

    def _refresh(self) -> None:
        ws = self.workspace
        rows = metrics.responses(ws, limit=10, contact_id=self.contact_id)
        flag = rules.open_flag(ws, self.contact_id)
        head = (
            f"<p class='sv-flag'><b>Churn risk</b>: {E(flag['reason'] or '')} since {when_html(flag['flagged_at'])}</p>"
            if flag
            else ""
        )
        items = "".join(f"<li>{when_html(r['responded_at'])} · {E(rules.describe(r))}"
                        f"{(' – ' + E(r['comment'])) if r['comment'] else ''}</li>" for r in rows)  # fmt: skip
        self.body.object = head + (f"<ul>{items}</ul>" if items else "<p><em>No survey answers.</em></p>")
        self.clear.visible = bool(flag)

    def _clear(self, _event) -> None:
        rules.clear_flag(self.workspace, self.contact_id)
        self.workspace.changed()
        self._refresh()

    def __panel__(self):
        return pn.Column(self.body, self.clear, sizing_mode="stretch_width")
