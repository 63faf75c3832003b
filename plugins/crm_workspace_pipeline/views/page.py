"""The pipeline page: toolbar and board first; every other part built the first time it is needed."""

from __future__ import annotations

import functools
import html
import io
from typing import Any

import panel as pn
import param

from crm_workspace import Workspace
from crm_workspace.errors import ConflictError, CrmError

from ..board import Board
from ..filters import BOARD_PARAMS, FILTERS
from ..model import PipelineModel
from .close_dialog import CloseDialog
from .common import READ_ONLY_TIP, bound, notify, read_only
from .deal_form import DealForm
from .filters import MoreFilters
from .forecast import Forecast
from .quick_add import QuickAdd
from .stage_settings import StageSettings

VIEWS = ("Board", "Forecast", "Stages")


class PipelinePage(pn.viewable.Viewer):
    """The pipeline page: filters, the board (live), forecast, stage settings, export.

    Opening the board is what twenty people do at nine o'clock, and each Bokeh model a
    session starts with costs the server ~4 ms: the board view starts with the toolbar and
    the board only. The dialog, the deal form, quick add, the extra filters and messages are
    built and put in place (``_show``) when first needed; Forecast and Stages when chosen.
    The toolbar's widgets are bound to the model's params; any change of a filter, of the
    cards shown or of the data (``workspace.revision``) redraws the board.
    """

    workspace = param.ClassSelector(class_=Workspace)
    model = param.ClassSelector(class_=PipelineModel, doc="The filters and queries (made from the workspace).")
    view = param.Selector(default="Board", objects=list(VIEWS), doc="Board, Forecast or Stages.")

    #: the board view's parts, top to bottom; the optional ones appear on first use
    PARTS = ("toolbar", "more", "quick_add", "message", "dialog", "board", "form")

    def __init__(self, **params: Any):
        if params.get("model") is None:
            params["model"] = PipelineModel(workspace=params["workspace"])
        super().__init__(**params)
        self.board = Board(on_message=self.handle, sizing_mode="stretch_width", min_height=300)
        model = self.model
        model.load_pipelines()
        self.pipeline_select = bound(pn.widgets.Select, model.param.pipeline, name="Pipeline", width=140)
        self.mine = bound(pn.widgets.Checkbox, model.param.mine, name="My deals", align="end")
        self.owner = bound(
            pn.widgets.Select,
            model.param.owner,
            options={"": None, **{o: o for o in model.owners()}},
            name="Owner",
            width=120,
        )
        self.organization = bound(
            pn.widgets.TextInput, model.param.organization, name="Organization", placeholder="name contains", width=160
        )
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
        self.view_switch = bound(pn.widgets.RadioButtonGroup, self.param.view, color="light", name="View")
        self.layout = pn.Column(
            pn.pane.Markdown("## Pipeline"), self.view_switch, self.board_view, sizing_mode="stretch_width"
        )
        self._read_only()
        self.refresh()
        self._follow_address()

    def _read_only(self) -> None:
        """A viewer sees the board, not controls that fail on save: no dragging, no adding."""
        if not read_only(self.workspace):
            return
        self.board.readonly = True
        self.add_deal.param.update(disabled=True, description=READ_ONLY_TIP)

    # ------------------------------------------------- parts made on first use
    @functools.cached_property
    def more(self) -> MoreFilters:
        return MoreFilters(model=self.model)

    @functools.cached_property
    def quick_add(self) -> QuickAdd:
        return QuickAdd(model=self.model, on_error=self.show_message)

    @functools.cached_property
    def message(self) -> pn.pane.Alert:
        return pn.pane.Alert("", alert_type="warning", visible=False, sizing_mode="stretch_width")

    @functools.cached_property
    def dialog(self) -> CloseDialog:
        return CloseDialog(on_move=self.move, on_cancel=self.refresh)

    @functools.cached_property
    def form(self) -> DealForm:
        return DealForm(model=self.model)

    @functools.cached_property
    def settings(self) -> StageSettings:
        return StageSettings(model=self.model, on_error=self.show_message)

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

    @param.depends("view", watch=True)
    def _switch_view(self) -> None:
        views = {"Board": lambda: self.board_view, "Forecast": self._draw_forecast, "Stages": lambda: self.settings}
        self.layout[2] = views[self.view]()

    # ------------------------------------------------------------ state
    @param.depends(*(f"model.{name}" for name in (*FILTERS, "sort")), watch=True)
    def _first_page_again(self) -> None:
        self.model.first_page_again()

    @param.depends(*(f"model.{name}" for name in (*BOARD_PARAMS, "shown")), "workspace.revision", watch=True)
    def refresh(self) -> None:
        """Redraw the board from the database (its true state), and the forecast if shown.

        An open deal form keeps the person's edits: saving against a stale version reports the conflict.
        """
        self.board.show(*self.model.board())
        if self.view == "Forecast":
            self._draw_forecast()

    def show_message(self, text: str, kind: str = "warning") -> None:
        self.message.param.update(alert_type=kind, object=html.escape(text), visible=True)
        self._show("message")

    # ------------------------------------------------------------ the address
    @param.depends("workspace.page_args", watch=True)
    def _follow_address(self) -> None:
        """``?page=pipeline&deal=7`` opens that deal (a shared link, a reload, Back); no ``deal`` closes it."""
        if self.workspace.page != "pipeline":
            return
        deal = (self.workspace.page_args or {}).get("deal")
        if deal is None:
            if "form" in self._shown:
                self.form.deal_id = None
        elif "form" not in self._shown or self.form.deal_id != deal:
            try:
                self.model.deal(int(deal))
            except (CrmError, ValueError):
                text = f"Deal not found: there is no deal with the id {deal} (deleted, or the link is mistyped)."
                self.show_message(text, "danger")
                return
            self.handle({"type": "open", "id": deal})

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
                self.workspace.open_page("pipeline", deal=int(msg["id"]))  # the deal's own URL
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
        """Move now, or ask the won/lost dialog first when the stage closes the deal."""
        stage = self.model.stage(msg["stage"])
        if stage["status"] in ("won", "lost"):
            self._show("dialog")
            self.dialog.ask(self.model.deal(int(msg["id"])), msg, stage)
            return
        self.move(int(msg["id"]), stage["stage"], msg.get("version"))

    def move(self, deal_id: int, stage: str, version: int | None, **extra: Any) -> bool:
        """Write a move; a conflict or a refusal is shown with the board's true state."""
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
