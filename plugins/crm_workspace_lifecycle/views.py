"""Lifecycle page: funnel, time in stage, cohorts, flow, journey, metrics and settings (Bokeh charts)."""

from __future__ import annotations

import html

import panel as pn
import param
from bokeh.models import ColumnDataSource
from bokeh.palettes import Blues9
from bokeh.plotting import figure

from crm_workspace import Workspace
from crm_workspace.core_rules import may_change_setting
from crm_workspace.errors import CrmError
from crm_workspace.web.deferred import after_ready
from crm_workspace.web.display import label, when_html
from crm_workspace.web.list_table import ListTable, percent

from .charts import cohort_figure, flow_figure, journey_figure, journey_in_words, time_figure
from .model import LifecycleModel


def _pct(value) -> str:
    return "—" if value is None or value != value else f"{100 * value:.1f} %"


#: columns read as stored words ("marketing_qualified" -> "Marketing qualified") and as times
WORD_COLUMNS = ("stage", "type", "function")
TIME_COLUMNS = ("at", "since", "last_activity")


def readable_table(frame, **options) -> ListTable:
    """A read-only table as people read it: labelled headers, stages in words, times "3 days ago" (the exact
    time on hover), shares as percentages."""
    shown = frame.assign(
        **{c: [label(v) for v in frame[c]] for c in WORD_COLUMNS if c in frame.columns},
        **{c: [when_html(v) for v in frame[c]] for c in TIME_COLUMNS if c in frame.columns},
    )
    formatters = {c: "html" for c in TIME_COLUMNS if c in frame.columns}
    formatters.update({c: percent() for c in ("share",) if c in frame.columns})
    titles = {c: label(c) for c in frame.columns} | {"contact_id": "Id", "at": "When", "by": "By"}
    return ListTable(shown, titles=titles, formatters=formatters, **options)


def label_color(fill: str) -> str:
    """White on a dark band, near-black on a light one (by the fill's relative luminance)."""
    r, g, b = (int(fill.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4))
    lum = sum(
        w * (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4)
        for w, c in zip((0.2126, 0.7152, 0.0722), (r, g, b), strict=True)
    )
    return "#ffffff" if lum < 0.3 else "#222222"


FUNNEL_CSS = """
.lc-fn-title {font-weight: 600; margin: 4px 0 8px;}
.lc-fn-row {position: relative; height: 54px; margin-bottom: 6px;}
.lc-fn-band {height: 100%; margin: 0 auto; opacity: 0.9;}
.lc-fn-row span {position: absolute; inset: 0; display: flex; align-items: center; justify-content: center;
  font-size: 11pt; pointer-events: none;}
"""


def funnel_html(frame) -> str:
    """A tapered funnel in HTML: one band per stage, as wide as the contacts reaching it, narrowing to the next.

    Plain HTML, not a chart: it is the lifecycle page's first screen, drawn with the page at once.
    """
    top = max(frame["reached"].max() if len(frame) else 0, 1)
    counts = list(frame["reached"])
    rows = []
    for i, (stage, n) in enumerate(zip(frame["stage"], counts, strict=True)):
        upper = n / top
        lower = (counts[i + 1] / top) if i + 1 < len(counts) else upper * 0.85
        taper = min(lower / upper, 1.0) if upper else 1.0
        left, right = 50 * (1 - taper), 50 * (1 + taper)
        conv = frame["conversion_to_next"].iloc[i]
        label = f"{stage}: {n:,}" + (f"  → {_pct(conv)}" if i + 1 < len(counts) else "")
        fill = Blues9[min(i, 8)]
        color = label_color(fill) if (upper + lower) / 2 >= 0.4 else "#222222"  # wide enough to hold its label
        rows.append(
            f'<div class="lc-fn-row" title="{html.escape(str(stage))}: {n:,} reached">'
            f'<div class="lc-fn-band" style="width: {100 * upper / 1.2:.1f}%; background: {fill}; '
            f'clip-path: polygon(0 0, 100% 0, {right:.1f}% 100%, {left:.1f}% 100%)"></div>'
            f'<span style="color: {color}">{html.escape(label)}</span></div>'
        )
    return f'<div class="lc-funnel-chart"><div class="lc-fn-title">Funnel</div>{"".join(rows)}</div>'


def funnel_table(frame) -> str:
    rows = "".join(
        f'<tr><td>{html.escape(label(stage))}</td><td class="lc-reached" data-stage="{html.escape(str(stage))}">{n:,}</td>'
        f"<td>{_pct(conv)}</td></tr>"
        for stage, n, conv in zip(frame["stage"], frame["reached"], frame["conversion_to_next"], strict=True)
    )
    return (
        '<table class="lc-funnel"><thead><tr><th>Stage</th><th>Reached</th><th>Conversion to next</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>"
    )


class LifecycleSettings(pn.viewable.Viewer):
    """The stages (one per line) and the automatic rules, as params the inputs are bound to."""

    model = param.ClassSelector(class_=LifecycleModel)
    stages = param.String(default="", doc="The stages in order, one per line.")
    won_deal = param.Boolean(default=True, label="A won deal makes its contact a customer")
    meeting = param.Boolean(default=True, label="A logged meeting makes a lead (or earlier) sales-qualified")
    churn_risk = param.Boolean(default=True, label="Flag customers with no activity as churn risks")
    months = param.Integer(default=6, bounds=(1, 60), label="Months without activity")

    def __init__(self, **params):
        super().__init__(**params)
        config = self.model.rules()
        self.param.update(
            stages="\n".join(self.model.stages()),
            won_deal=config["won_deal"]["enabled"],
            meeting=config["meeting"]["enabled"],
            churn_risk=config["churn_risk"]["enabled"],
            months=config["churn_risk"]["months"],
        )
        self.message = pn.Column()
        self.save_stages = pn.widgets.Button(label="Save stages", color="primary")
        self.save_stages.on_click(self._save_stages)
        self.save_rules = pn.widgets.Button(label="Save rules", color="primary")
        self.save_rules.on_click(self._save_rules)
        stages = pn.widgets.TextAreaInput.from_param(
            self.param.stages, label="Stages, in order (one per line)", height=200, width=300, description=None
        )
        rules = [pn.widgets.Checkbox.from_param(self.param[name]) for name in ("won_deal", "meeting", "churn_risk")]
        months = pn.widgets.IntInput.from_param(self.param.months, width=180)
        may_stages = may_change_setting(self.model.workspace, "lifecycle_stages")
        may_rules = may_change_setting(self.model.workspace, "lifecycle_rules")
        stages.disabled = self.save_stages.disabled = not may_stages  # a member reads them, an admin edits
        self.save_stages.visible = may_stages
        for widget in (*rules, months):
            widget.disabled = not may_rules
        self.save_rules.visible = may_rules
        note = None if may_stages and may_rules else pn.pane.Markdown("*Only an admin changes these settings.*")
        self.layout = pn.Card(
            note,
            pn.Row(pn.Column(stages, self.save_stages), pn.Column(*rules, months, self.save_rules)),
            self.message,
            title="Settings: stages and automatic rules",
            collapsed=True,
            sizing_mode="stretch_width",
        )

    def _say(self, text: str, kind: str) -> None:
        self.message[:] = [pn.pane.Alert(html.escape(text), alert_type=kind)]

    def _save_stages(self, _event=None) -> None:
        try:
            saved = self.model.set_stages(self.stages.splitlines())
        except CrmError as error:
            self._say(str(error), "danger")
            return
        self._say(f"Saved {len(saved)} stages.", "success")

    def _save_rules(self, _event=None) -> None:
        try:
            self.model.set_rules(
                {
                    "won_deal": {"enabled": self.won_deal},
                    "meeting": {"enabled": self.meeting},
                    "churn_risk": {"enabled": self.churn_risk, "months": self.months},
                }
            )
        except CrmError as error:
            self._say(str(error), "danger")
            return
        self._say("Rules saved.", "success")

    def __panel__(self) -> pn.viewable.Viewable:
        return self.layout


class LifecyclePage(pn.viewable.Viewer):
    """The whole lifecycle page; every section refreshes on ``workspace.revision`` and the filters."""

    workspace = param.ClassSelector(class_=Workspace)

    def __init__(self, **params):
        super().__init__(**params)
        self.model = model = LifecycleModel.last_year(self.workspace)
        model.contact_id = model.latest_contact()
        self._owner = pn.widgets.Select.from_param(
            model.param.owner, options=["", *model.owners()], label="Owner", width=160, description=None
        )
        self._start = pn.widgets.DatePicker.from_param(model.param.start, label="From", width=150, description=None)
        self._end = pn.widgets.DatePicker.from_param(model.param.end, label="To", width=150, description=None)
        self._contact = pn.widgets.IntInput.from_param(
            model.param.contact_id, label="Journey of contact #", width=160, description=None
        )

    def _deps(self):
        m = self.model
        return [self.workspace.param.revision, m.param.start, m.param.end, m.param.owner]

    def _guard(self, build):
        def render(*_args):
            try:
                return build()
            except CrmError as error:
                return pn.pane.Alert(html.escape(str(error)), alert_type="danger")

        return render

    def _funnel(self):
        frame = self.model.funnel()
        flagged = self.model.flagged_events()
        note = (
            f"<p class='lc-flagged'>{flagged:,} imported events were accepted out of order and are flagged.</p>"
            if flagged
            else ""
        )
        return pn.Row(
            pn.pane.HTML(funnel_html(frame), stylesheets=[FUNNEL_CSS], sizing_mode="stretch_width"),
            pn.pane.HTML(funnel_table(frame) + note, width=340),
            sizing_mode="stretch_width",
        )

    def _time(self):
        return pn.Row(
            pn.pane.Bokeh(time_figure(self.model.time_in_stage()), sizing_mode="stretch_width"),
            pn.Column(
                "**Stuck longest**",
                readable_table(self.model.stuck(), width=480, height=330),
            ),
            sizing_mode="stretch_width",
        )

    def _cohorts(self):
        frame = self.model.cohorts()
        stages = [c for c in frame.columns if c not in ("cohort", "entered")]
        return pn.pane.Bokeh(cohort_figure(frame, stages), sizing_mode="stretch_width")

    def _flow(self):
        return pn.pane.Bokeh(flow_figure(self.model.flow(), self.model.stages()), sizing_mode="stretch_width")

    def _journey(self, _contact=None):
        frame = self.model.journey()
        table = journey_in_words(frame)[["at", "type", "detail", "function", "by"]] if len(frame) else frame
        return pn.Column(
            pn.pane.Bokeh(journey_figure(frame), sizing_mode="stretch_width"),
            readable_table(table, page_size=10, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )

    def _metrics(self):
        series = self.model.adoption()
        fig = figure(
            x_range=list(series["month"]) or ["-"],
            height=260,
            sizing_mode="stretch_width",
            title="Per month",
            toolbar_location=None,
            tools="",
        )
        source = ColumnDataSource(series)
        for name, color in (
            ("active_users", "#08519c"),
            ("new_contacts", "#ff7f0e"),
            ("new_organizations", "#2ca02c"),
            ("new_deals", "#d62728"),
        ):
            fig.line("month", name, source=source, color=color, legend_label=label(name), line_width=2)
        fig.legend.location = "top_left"
        fig.xaxis.major_label_orientation = 0.8
        return pn.Column(
            pn.pane.Bokeh(fig, sizing_mode="stretch_width"),
            pn.Row(
                pn.Column(
                    "**Data quality**",
                    readable_table(self.model.data_quality(), width=380),
                ),
                pn.Column(
                    "**Customers with no recent activity (churn risk)**",
                    readable_table(self.model.churn_risk(), page_size=8, width=560),
                ),
            ),
            readable_table(series, page_size=12, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )

    def _settings(self) -> pn.viewable.Viewable:
        return LifecycleSettings(model=self.model).__panel__()

    def __panel__(self):
        deps = self._deps()

        def later(build, deps, height):  # below the first screen: built once the page is shown
            return after_ready(
                lambda: pn.panel(pn.bind(self._guard(build), *deps), sizing_mode="stretch_width"),
                min_height=height,
                sizing_mode="stretch_width",
            )

        return pn.Column(
            "## Lifecycle",
            pn.Row(self._start, self._end, self._owner, self._contact),
            "### Funnel",
            pn.bind(self._guard(self._funnel), *deps),  # the first screen: with the page
            "### Time in stage",
            later(self._time, deps, 360),
            "### Cohorts by month of entry",
            later(self._cohorts, deps, 300),
            "### Flow between stages",
            later(self._flow, deps, 300),
            "### Journey",
            later(self._journey, (self.workspace.param.revision, self.model.param.contact_id), 560),
            "### Metrics",
            later(self._metrics, deps, 700),
            after_ready(self._settings, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )
