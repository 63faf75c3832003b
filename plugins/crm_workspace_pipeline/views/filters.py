"""The board's rarely used filters, bound to the model: expected-close range, minimum amount, rotting, order."""

from __future__ import annotations

from typing import Any

import panel as pn
import param

from ..model import PipelineModel
from .common import bound


class MoreFilters(pn.viewable.Viewer):
    """Widgets over ``model``'s params: a change is a new board (the model starts each column again)."""

    model = param.ClassSelector(class_=PipelineModel)

    def __init__(self, **params: Any):
        super().__init__(**params)
        m = self.model.param
        self.close_from = bound(pn.widgets.DatePicker, m.close_from, name="Close from", width=130)
        self.close_to = bound(pn.widgets.DatePicker, m.close_to, name="Close to", width=130)
        self.min_amount = bound(pn.widgets.FloatInput, m.min_amount, name="Min amount", width=110)
        self.rotting = bound(pn.widgets.Checkbox, m.rotting_only, name="Rotting only", align="end")
        self.sort = bound(pn.widgets.Select, m.sort, name="Sort cards by", width=150)
        self.layout = pn.Row(
            self.close_from, self.close_to, self.min_amount, self.rotting, self.sort, sizing_mode="stretch_width"
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return self.layout
