"""Pipeline page: the board, its filters, won/lost dialog, deal form, forecast, stage settings, export."""

from __future__ import annotations

import functools
import html
import io
from typing import Any

import panel as pn
import param
from bokeh.models import ColumnDataSource, NumeralTickFormatter
from bokeh.plotting import figure

from crm_workspace import Workspace
from crm_workspace.errors import ConflictError, CrmError, ValidationError

from .board import Board
from .model import BOARD_PARAMS, SORTS, PipelineModel, parse_date, today_iso
from .schema import LOST_REASONS


def notify(kind: str, message: str) -> None:
    if pn.state.notifications is not None:
        getattr(pn.state.notifications, kind)(message, duration=8000)


def _cell(value: Any) -> str:
    return "" if value is None else str(value)  # 0 is a value (the first stage's position)


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    head = "".join(f"<th style='text-align:left;padding:2px 8px'>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td style='padding:2px 8px'>{html.escape(_cell(r.get(c)))}</td>" for c in columns) + "</tr>"
        for r in rows
    )
    return f"<table style='border-collapse:collapse;font-size:13px'><tr>{head}</tr>{body}</table>"


class DealForm(pn.viewable.Viewer):
    """A deal's full form: fields with messages at the field, contacts on the deal, activity timeline."""

    model = param.ClassSelector(class_=PipelineModel)
    deal_id = param.Integer(default=None, allow_None=True)

    def __init__(self, **params: Any):
        super().__init__(**params)
        self._version: int | None = None
        self.inputs = {
            "title": pn.widgets.TextInput(label="Title"),
            "amount": pn.widgets.TextInput(label="Amount"),
            "currency": pn.widgets.TextInput(label="Currency", width=90),
            "probability": pn.widgets.TextInput(label="Probability % (blank = stage default)"),
            "expected_close": pn.widgets.TextInput(label="Expected close (YYYY-MM-DD)"),
            "owner": pn.widgets.TextInput(label="Owner"),
        }
        self.errors = pn.pane.Alert("", alert_type="warning", visible=False, sizing_mode="stretch_width")
        self.save_button = pn.widgets.Button(label="Save deal", color="primary")
        self.close_button = pn.widgets.Button(label="Close")
        self.save_button.on_click(self._save)
        self.close_button.on_click(lambda _e: self.param.update(deal_id=None))
        self.header = pn.pane.Markdown("")
        self.contacts = pn.pane.HTML("")
        self.timeline = pn.pane.HTML("")
        self.layout = pn.Card(
            self.header,
            pn.Row(self.inputs["title"], self.inputs["amount"], self.inputs["currency"]),
            pn.Row(self.inputs["probability"], self.inputs["expected_close"], self.inputs["owner"]),
            self.errors,
            pn.Row(self.save_button, self.close_button),
            pn.pane.Markdown("**Contacts on the deal**"),
            self.contacts,
            pn.pane.Markdown("**Timeline**"),
            self.timeline,
            title="Deal",
            visible=False,
            sizing_mode="stretch_width",
            collapsible=False,
        )

    @param.depends("deal_id", watch=True)
    def load(self) -> None:
        if self.deal_id is None:
            self.layout.visible = False
            return
        deal = self.model.deal(self.deal_id)
        self._version = deal["version"]
        for name, widget in self.inputs.items():
            value = deal.get(name)
            widget.value = "" if value is None else (f"{value:g}" if isinstance(value, float) else str(value))
        self.errors.visible = False
        stage = f"{deal['stage']} · {deal['status']}"
        if deal.get("lost_reason"):
            stage += f" ({deal['lost_reason']})"
        self.header.object = (
            f"### {html.escape(deal['title'] or '')}\n\n{html.escape(stage)} · version {deal['version']}"
        )
        self.contacts.object = _table(
            self.model.deal_contacts(self.deal_id), ["first_name", "last_name", "title", "email", "phone"]
        )
        self.timeline.object = _table(self.model.deal_timeline(self.deal_id), ["at", "kind", "subject", "who"])
        self.layout.title = f"Deal #{self.deal_id}"
        self.layout.visible = True

    def _save(self, _event: Any = None) -> None:
        changes = {name: widget.value for name, widget in self.inputs.items()}
        try:
            self.model.save_deal(self.deal_id, changes, self._version)
        except ValidationError as error:
            self.errors.object = "\n".join(f"- **{html.escape(k)}**: {html.escape(v)}" for k, v in error.errors.items())
            self.errors.visible = True
            return
        except ConflictError as error:
            self.errors.object = html.escape(str(error)) + " — the form now shows the saved record."
            self.errors.visible = True
            self.load()
            self.errors.visible = True
            return
        except CrmError as error:
            self.errors.object = html.escape(str(error))
            self.errors.visible = True
            return
        notify("success", "Deal saved")
        self.load()

    def __panel__(self) -> pn.viewable.Viewable:
        return self.layout


class CloseDialog(pn.viewable.Viewer):
    """What a move to Won or Lost needs: a lost reason (list plus free text) or a won date."""

    def __init__(self, page: PipelinePage, **params: Any):
        super().__init__(**params)
        self.page = page
        self.pending: dict[str, Any] | None = None
        self.title = pn.pane.Markdown("")
        self.reason = pn.widgets.Select(label="Lost reason", options=["", *LOST_REASONS])
        self.details = pn.widgets.TextInput(label="Details (optional, or your own reason)")
        self.date = pn.widgets.TextInput(label="Closed on (YYYY-MM-DD)")
        self.error = pn.pane.Alert("", alert_type="warning", visible=False)
        self.confirm = pn.widgets.Button(label="Confirm", color="primary")
        self.cancel = pn.widgets.Button(label="Cancel")
        self.confirm.on_click(self._confirm)
        self.cancel.on_click(self._cancel)
        self.layout = pn.Card(
            self.title,
            self.reason,
            self.details,
            self.date,
            self.error,
            pn.Row(self.confirm, self.cancel),
            title="Close the deal",
            visible=False,
            collapsible=False,
            width=420,
            styles={"border": "2px solid #1f4e79"},
        )

    def ask(self, deal: dict[str, Any], msg: dict[str, Any], stage: dict[str, Any]) -> None:
        self.pending = {
            "id": msg["id"],
            "version": msg.get("version"),
            "stage": stage["stage"],
            "status": stage["status"],
        }
        lost = stage["status"] == "lost"
        self.layout.title = f"Move to {stage['label']}"
        self.title.object = f"**{html.escape(deal['title'] or '')}** → {html.escape(stage['label'] or '')}"
        self.reason.value = ""
        self.details.value = ""
        self.date.value = today_iso()
        self.reason.visible = self.details.visible = lost
        self.date.label = "Lost on (YYYY-MM-DD)" if lost else "Won on (YYYY-MM-DD)"
        self.error.visible = False
        self.layout.visible = True

    def _confirm(self, _event: Any = None) -> None:
        if not self.pending:
            return
        reason = None
        if self.pending["status"] == "lost":
            parts = [p.strip() for p in (self.reason.value or "", self.details.value or "") if p and p.strip()]
            reason = ": ".join(parts)
            if not reason:
                self.error.object = "Choose why the deal was lost (a reason from the list or your own words)."
                self.error.visible = True
                return
        try:
            when = parse_date(self.date.value)
        except ValueError:
            self.error.object = f"{html.escape(self.date.value)!s} is not a date (YYYY-MM-DD)."
            self.error.visible = True
            return
        pending, self.pending = self.pending, None
        self.layout.visible = False
        self.page.move(pending["id"], pending["stage"], pending["version"], lost_reason=reason, won_date=when)

    def _cancel(self, _event: Any = None) -> None:
        self.pending = None
        self.layout.visible = False
        self.page.refresh()

    def __panel__(self) -> pn.viewable.Viewable:
        return self.layout


class QuickAdd(pn.viewable.Viewer):
    """Add a deal straight into a column (its stages follow the pipeline shown)."""

    def __init__(self, page: PipelinePage, **params: Any):
        super().__init__(**params)
        self.page = page
        self.stage = pn.widgets.Select(label="Stage", options=self._stages(), width=160)
        self.title = pn.widgets.TextInput(label="New deal title", placeholder="e.g. Analytics — EMEA")
        self.amount = pn.widgets.TextInput(label="Amount", width=120)
        self.add = pn.widgets.Button(label="Add deal", color="primary", align="end")
        self.add.on_click(self._add)
        page.model.param.watch(lambda _e: setattr(self.stage, "options", self._stages()), "pipeline")
        self.layout = pn.Row(self.stage, self.title, self.amount, self.add)

    def _stages(self) -> list[str]:
        return [s["stage"] for s in self.page.model.stages()]

    def focus_stage(self, stage: str) -> None:
        self.stage.value = stage

    def _add(self, _event: Any = None) -> None:
        try:
            deal = self.page.model.quick_add(self.stage.value, self.title.value, self.amount.value or None)
        except CrmError as error:
            notify("error", str(error))
            self.page.show_message(str(error))
            return
        self.title.value = self.amount.value = ""
        notify("success", f"Deal #{deal['id']} added")

    def __panel__(self) -> pn.viewable.Viewable:
        return self.layout


class MoreFilters(pn.viewable.Viewer):
    """The rarely used filters: expected-close range, minimum amount, rotting only, card order."""

    model = param.ClassSelector(class_=PipelineModel)

    def __init__(self, **params: Any):
        super().__init__(**params)
        self.close_from = pn.widgets.DatePicker(label="Close from", width=130)
        self.close_to = pn.widgets.DatePicker(label="Close to", width=130)
        self.min_amount = pn.widgets.FloatInput(label="Min amount", value=None, width=110)
        self.rotting = pn.widgets.Checkbox(label="Rotting only", value=False, align="end")
        self.sort = pn.widgets.Select(label="Sort cards by", options=list(SORTS), width=150)
        self.layout = pn.Row(
            self.close_from, self.close_to, self.min_amount, self.rotting, self.sort, sizing_mode="stretch_width"
        )
        for widget in self.layout:
            widget.param.watch(self._apply, "value")

    def _apply(self, _event: Any = None) -> None:
        self.model.param.update(
            close_from=self.close_from.value.isoformat() if self.close_from.value else None,
            close_to=self.close_to.value.isoformat() if self.close_to.value else None,
            min_amount=self.min_amount.value,
            rotting_only=self.rotting.value,
            sort=self.sort.value,
            shown={},
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return self.layout


class Forecast(pn.viewable.Viewer):
    """Weighted pipeline by month and by owner, win rate, deal size, cycle length, slipped deals."""

    model = param.ClassSelector(class_=PipelineModel)

    def _kpis(self) -> pn.viewable.Viewable:
        k = self.model.kpis()

        def fmt(value: Any, pattern: str) -> str:
            return "—" if value is None else pattern.format(value)

        cards = [
            ("Win rate", fmt(k["win_rate"], "{:.0%}")),
            ("Average won deal", fmt(k["avg_deal_size"], "{:,.0f}")),
            ("Average sales cycle", fmt(k["avg_cycle_days"], "{:.0f} days")),
            ("Open pipeline", fmt(k["open_amount"], "{:,.0f}")),
            ("Weighted pipeline", fmt(k["weighted"], "{:,.0f}")),
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
        return pn.widgets.Tabulator(
            frame, disabled=True, show_index=False, pagination="local", page_size=10, sizing_mode="stretch_width"
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


class StageSettings(pn.viewable.Viewer):
    """Edit a stage (label, order, default probability, status, rot limit), add stages and pipelines."""

    def __init__(self, page: PipelinePage, **params: Any):
        super().__init__(**params)
        self.page = page
        self.table = pn.pane.HTML("")
        self.stage = pn.widgets.Select(label="Stage", options=[])
        self.label = pn.widgets.TextInput(label="Label")
        self.position = pn.widgets.IntInput(label="Order", value=0)
        self.probability = pn.widgets.TextInput(label="Default probability %")
        self.status = pn.widgets.Select(label="Status", options=["open", "won", "lost"])
        self.rot_days = pn.widgets.TextInput(label="Rots after (days, blank = never)")
        self.save = pn.widgets.Button(label="Save stage", color="primary", align="end")
        self.new_stage = pn.widgets.TextInput(label="New stage name")
        self.add_stage = pn.widgets.Button(label="Add stage", align="end")
        self.new_pipeline = pn.widgets.TextInput(label="New pipeline name")
        self.add_pipeline = pn.widgets.Button(label="Create pipeline (copy of this one)", align="end")
        self.stage.param.watch(lambda _e: self._fill(), "value")
        self.save.on_click(self._save)
        self.add_stage.on_click(self._add_stage)
        self.add_pipeline.on_click(self._add_pipeline)

    def refresh(self) -> None:
        stages = self.page.model.stages()
        self.table.object = _table(stages, ["position", "stage", "label", "probability", "status", "rot_days"])
        names = [s["stage"] for s in stages]
        current = self.stage.value if self.stage.value in names else (names[0] if names else None)
        self.stage.param.update(options=names, value=current)
        self._fill()

    def _fill(self) -> None:
        for s in self.page.model.stages():
            if s["stage"] == self.stage.value:
                self.label.value = s["label"] or ""
                self.position.value = int(s["position"] or 0)
                self.probability.value = "" if s["probability"] is None else f"{s['probability']:g}"
                self.status.value = s["status"]
                self.rot_days.value = "" if s["rot_days"] is None else str(s["rot_days"])

    def _run(self, action) -> None:
        try:
            action()
        except CrmError as error:
            notify("error", str(error))
            self.page.show_message(str(error))
            return
        self.page.refresh()
        self.refresh()

    def _save(self, _event: Any = None) -> None:
        self._run(
            lambda: self.page.model.save_stage(
                self.stage.value,
                label=self.label.value,
                position=self.position.value,
                probability=self.probability.value,
                status=self.status.value,
                rot_days=self.rot_days.value.strip() or None,
            )
        )

    def _add_stage(self, _event: Any = None) -> None:
        self._run(lambda: self.page.model.add_stage(self.new_stage.value, label=self.new_stage.value))

    def _add_pipeline(self, _event: Any = None) -> None:
        def act():
            self.page.model.add_pipeline(self.new_pipeline.value, copy_from=self.page.model.pipeline)
            self.page.pipeline_select.options = self.page.model.pipelines()

        self._run(act)

    def __panel__(self) -> pn.viewable.Viewable:
        self.refresh()
        return pn.Column(
            self.table,
            pn.Row(self.stage, self.label, self.position),
            pn.Row(self.probability, self.status, self.rot_days, self.save),
            pn.Row(self.new_stage, self.add_stage),
            pn.Row(self.new_pipeline, self.add_pipeline),
        )


class PipelinePage(pn.viewable.Viewer):
    """The pipeline page: filters, the board (live), forecast, stage settings, export.

    Opening the board is what twenty people do at nine o'clock, and each Bokeh model a
    session starts with costs the server ~4 ms: the board view starts with the toolbar and
    the board only. The dialog, the deal form, quick add, the extra filters and messages are
    built and put in place (``_show``) when first needed; Forecast and Stages when chosen.
    """

    workspace = param.ClassSelector(class_=Workspace)

    #: the board view's parts, top to bottom; the optional ones appear on first use
    PARTS = ("toolbar", "more", "quick_add", "message", "dialog", "board", "form")

    def __init__(self, **params: Any):
        super().__init__(**params)
        ws = self.workspace
        self.model = PipelineModel(workspace=ws)
        self.board = Board(on_message=self.handle, sizing_mode="stretch_width", min_height=300)
        owners = [
            r["owner"]
            for r in ws.query("SELECT DISTINCT owner FROM deals WHERE owner IS NOT NULL ORDER BY 1 LIMIT 200")
        ]
        self.pipeline_select = pn.widgets.Select(
            label="Pipeline", options=self.model.pipelines(), value="default", width=140
        )
        self.mine = pn.widgets.Checkbox(label="My deals", value=False, align="end")
        self.owner = pn.widgets.Select(label="Owner", options=["", *owners], width=120)
        self.organization = pn.widgets.TextInput(label="Organization", placeholder="name contains", width=160)
        for widget in (self.pipeline_select, self.mine, self.owner, self.organization):
            widget.param.watch(self._apply_filters, "value")
        self.more_filters = pn.widgets.Button(label="More filters", color="light", align="end")
        self.more_filters.on_click(self._toggle_more_filters)
        self.add_deal = pn.widgets.Button(label="+ Add deal", color="primary", align="end")
        self.add_deal.on_click(lambda _e: self._show("quick_add"))
        self.download = pn.widgets.FileDownload(
            callback=self._export,
            filename="pipeline.xlsx",
            label="Export board to Excel",
            color="default",
            align="end",
        )
        self.toolbar = pn.Row(
            self.pipeline_select,
            self.mine,
            self.owner,
            self.organization,
            self.more_filters,
            self.add_deal,
            self.download,
            sizing_mode="stretch_width",
        )
        self.board_view = pn.Column(self.toolbar, self.board, sizing_mode="stretch_width")
        self._shown = {"toolbar", "board"}
        self.view_switch = pn.widgets.RadioButtonGroup(
            options=["Board", "Forecast", "Stages"], value="Board", color="light", label="View"
        )
        self.view_switch.param.watch(self._switch_view, "value")
        self.layout = pn.Column(
            pn.pane.Markdown("## Pipeline"), self.view_switch, self.board_view, sizing_mode="stretch_width"
        )
        self.model.param.watch(lambda _e: self.refresh(), [*BOARD_PARAMS, "shown"])
        ws.param.watch(self._on_revision, "revision")
        self.refresh()

    # ------------------------------------------------- parts made on first use
    @functools.cached_property
    def more(self) -> MoreFilters:
        return MoreFilters(model=self.model)

    @functools.cached_property
    def quick_add(self) -> QuickAdd:
        return QuickAdd(self)

    @functools.cached_property
    def message(self) -> pn.pane.Alert:
        return pn.pane.Alert("", alert_type="warning", visible=False, sizing_mode="stretch_width")

    @functools.cached_property
    def dialog(self) -> CloseDialog:
        return CloseDialog(self)

    @functools.cached_property
    def form(self) -> DealForm:
        return DealForm(model=self.model)

    @functools.cached_property
    def settings(self) -> StageSettings:
        return StageSettings(self)

    @functools.cached_property
    def forecast(self) -> pn.Column:
        """The forecast view, drawn when shown and redrawn only while shown (its charts cost)."""
        return pn.Column(sizing_mode="stretch_width")

    def _draw_forecast(self) -> pn.Column:
        self.forecast.objects = [Forecast(model=self.model).view()]
        return self.forecast

    def _show(self, part: str) -> None:
        """Put a part of the board view in its place (made on first use)."""
        if part not in self._shown:
            self._shown.add(part)
            self.board_view.objects = [getattr(self, p) for p in self.PARTS if p in self._shown]

    def _toggle_more_filters(self, _event: Any = None) -> None:
        if "more" not in self._shown:
            self._show("more")
        else:
            self.more.layout.visible = not self.more.layout.visible

    def _switch_view(self, event: param.parameterized.Event) -> None:
        views = {"Board": lambda: self.board_view, "Forecast": self._draw_forecast, "Stages": lambda: self.settings}
        self.layout[2] = views[event.new]()

    # ------------------------------------------------------------ state
    def _apply_filters(self, _event: Any = None) -> None:
        owner = self.workspace.user if self.mine.value else (self.owner.value or None)
        self.model.param.update(
            pipeline=self.pipeline_select.value or "default",
            owner=owner,
            organization=self.organization.value or None,
            shown={},
        )

    def _on_revision(self, _event: Any = None) -> None:
        # An open deal form keeps the person's edits: saving against a stale version reports the conflict.
        self.refresh()

    def refresh(self) -> None:
        """Redraw the board from the database (its true state), and the forecast if shown."""
        self.board.show(*self.model.board())
        if self.view_switch.value == "Forecast":
            self._draw_forecast()

    def show_message(self, text: str, kind: str = "warning") -> None:
        self.message.param.update(alert_type=kind, object=html.escape(text), visible=True)
        self._show("message")

    # ---------------------------------------------------------- actions
    def handle(self, msg: dict[str, Any]) -> None:
        """A message from board.js: move, open, add or more."""
        kind = msg.get("type")
        try:
            if kind == "move":
                self.request_move(msg)
            elif kind == "open":
                self._show("form")
                self.form.deal_id = int(msg["id"])
                self.form.load()
            elif kind == "add":
                self._show("quick_add")
                self.quick_add.focus_stage(msg["stage"])
                self.quick_add.title.focus = True
            elif kind == "more":
                self.model.load_more(msg["stage"])
        except CrmError as error:
            notify("error", str(error))
            self.show_message(str(error), "danger")
            self.refresh()

    def request_move(self, msg: dict[str, Any]) -> None:
        stage = self.model.stage(msg["stage"])
        if stage["status"] in ("won", "lost"):
            self._show("dialog")
            self.dialog.ask(self.model.deal(int(msg["id"])), msg, stage)
            return
        self.move(int(msg["id"]), stage["stage"], msg.get("version"))

    def move(self, deal_id: int, stage: str, version: int | None, **extra: Any) -> bool:
        try:
            self.model.move(deal_id, stage, version, **extra)
        except ConflictError as error:
            text = f"Someone else changed this deal first: {error}. The board now shows the saved state."
            notify("warning", text)
            self.show_message(text)
            self.refresh()
            return False
        except CrmError as error:
            notify("error", str(error))
            self.show_message(str(error), "danger")
            self.refresh()
            return False
        if "message" in self._shown:  # no hidden "danger" left behind
            self.message.param.update(visible=False, alert_type="warning")
        return True

    def _export(self) -> io.BytesIO:
        from crm_workspace.services.export import to_xlsx_bytes

        return io.BytesIO(to_xlsx_bytes(self.model.cards_frame(), "Pipeline"))

    # ------------------------------------------------------------- view
    def __panel__(self) -> pn.viewable.Viewable:
        return self.layout


def deals_section(workspace: Workspace, table: str, record_id: int) -> pn.viewable.Viewable:
    """The deals of a contact or an organization, for their record page."""
    column = "contact_id" if table == "contacts" else "organization_id"
    rows = workspace.query(
        f"SELECT id, title, stage, status, amount, currency, probability, expected_close, owner FROM deals"
        f" WHERE {column} = ? ORDER BY status = 'open' DESC, expected_close LIMIT 50",
        [record_id],
    )
    if not rows:
        return pn.pane.Markdown("No deals yet.")
    for row in rows:
        row["amount"] = "" if row["amount"] is None else f"{row['amount']:,.0f} {row['currency'] or ''}"
    return pn.pane.HTML(_table(rows, ["title", "stage", "status", "amount", "probability", "expected_close", "owner"]))
