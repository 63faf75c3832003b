"""Add a deal straight into a column: stage, title, amount."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import panel as pn
import param

from crm_workspace.errors import CrmError

from ..model import PipelineModel
from .common import bound, notify


class QuickAdd(pn.viewable.Viewer):
    """A one-line form; its stages follow the model's pipeline. A refusal goes to ``on_error``."""

    model = param.ClassSelector(class_=PipelineModel)
    deal_stage = param.Selector(default=None, objects=[], allow_None=True, doc="The column the deal goes into.")
    deal_title = param.String(default="")
    deal_amount = param.String(default="", doc="As typed: the store says what is wrong with it.")

    def __init__(self, on_error: Callable[[str], Any] | None = None, **params: Any):
        super().__init__(**params)
        self._on_error = on_error
        self.stage = bound(pn.widgets.Select, self.param.deal_stage, name="Stage", width=160)
        self.title = bound(
            pn.widgets.TextInput, self.param.deal_title, name="New deal title", placeholder="e.g. Analytics — EMEA"
        )
        self.amount = bound(pn.widgets.TextInput, self.param.deal_amount, name="Amount", width=120)
        self.add = pn.widgets.Button(label="Add deal", color="primary", align="end")
        self.add.on_click(self._add)
        self.layout = pn.Row(self.stage, self.title, self.amount, self.add)

    @param.depends("model.pipeline", watch=True, on_init=True)
    def _load_stages(self) -> None:
        names = [s["stage"] for s in self.model.stages()]
        self.param.deal_stage.objects = names
        if self.deal_stage not in names:
            self.deal_stage = names[0] if names else None

    def focus_stage(self, stage: str) -> None:
        self.deal_stage = stage

    def _add(self, _event: Any = None) -> None:
        try:
            deal = self.model.quick_add(self.deal_stage, self.deal_title, self.deal_amount or None)
        except CrmError as error:
            notify("error", str(error))
            if self._on_error is not None:
                self._on_error(str(error))
            return
        self.param.update(deal_title="", deal_amount="")
        notify("success", f"Deal #{deal['id']} added")

    def __panel__(self) -> pn.viewable.Viewable:
        return self.layout
