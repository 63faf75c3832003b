"""Stage settings: edit a stage (label, order, default probability, status, rot limit), add stages and pipelines."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import panel as pn
import param

from crm_workspace.errors import CrmError

from ..model import PipelineModel
from ..schema import DEAL_STATUSES
from .common import bound, html_table, notify, read_only


def _stages_table(stages: list[dict[str, Any]]) -> str:
    return html_table(
        stages,
        {
            "position": "Position",
            "stage": "Key",
            "label": "Label",
            "probability": "Probability %",
            "status": "Status",
            "rot_days": "Rots after (days)",
        },
    )


class StageForm(param.Parameterized):
    """The settings of the chosen stage as text a person edits, and the names of new stages and pipelines."""

    model = param.ClassSelector(class_=PipelineModel)
    stage = param.Selector(default=None, objects=[], allow_None=True, doc="The stage being edited.")
    label = param.String(default="")
    position = param.Integer(default=0, doc="Its place on the board (smallest first).")
    probability = param.String(default="", doc="Default probability %, as typed.")
    status = param.Selector(default="open", objects=list(DEAL_STATUSES))
    rot_days = param.String(default="", doc="Days without a touch before a deal rots; blank = never.")
    new_stage = param.String(default="")
    new_pipeline = param.String(default="")
    stages = param.List(default=[], doc="The pipeline's stages as saved.")

    @param.depends("model.pipeline", watch=True)
    def load(self) -> None:
        """Read the pipeline's stages again; keep the chosen stage when it still exists."""
        stages = self.model.stages()
        names = [s["stage"] for s in stages]
        self.param.stage.objects = names
        self.stages = stages
        if self.stage in names:
            self._fill()
        else:
            self.stage = names[0] if names else None  # fills the fields

    @param.depends("stage", watch=True)
    def _fill(self) -> None:
        for s in self.stages:
            if s["stage"] == self.stage:
                self.param.update(
                    label=s["label"] or "",
                    position=int(s["position"] or 0),
                    probability="" if s["probability"] is None else f"{s['probability']:g}",
                    status=s["status"],
                    rot_days="" if s["rot_days"] is None else str(s["rot_days"]),
                )

    def save(self) -> None:
        self.model.save_stage(
            self.stage,
            label=self.label,
            position=self.position,
            probability=self.probability,
            status=self.status,
            rot_days=self.rot_days.strip() or None,
        )

    def add_stage(self) -> None:
        self.model.add_stage(self.new_stage, label=self.new_stage)

    def add_pipeline(self) -> None:
        self.model.add_pipeline(self.new_pipeline, copy_from=self.model.pipeline)


class StageSettings(pn.viewable.Viewer):
    """The stages of the model's pipeline as a table, and widgets over a ``StageForm``.

    A refusal goes to ``on_error``; a saved change reaches the board through the
    workspace's revision, like any other write.
    """

    model = param.ClassSelector(class_=PipelineModel)

    def __init__(self, on_error: Callable[[str], Any] | None = None, **params: Any):
        super().__init__(**params)
        self._on_error = on_error
        self.form = form = StageForm(model=self.model)
        self.table = pn.pane.HTML(pn.bind(_stages_table, form.param.stages))
        self.stage = bound(pn.widgets.Select, form.param.stage, name="Stage")
        self.label = bound(pn.widgets.TextInput, form.param.label, name="Label")
        self.position = bound(pn.widgets.IntInput, form.param.position, name="Order")
        self.probability = bound(pn.widgets.TextInput, form.param.probability, name="Default probability %")
        self.status = bound(pn.widgets.Select, form.param.status, name="Status")
        self.rot_days = bound(pn.widgets.TextInput, form.param.rot_days, name="Rots after (days, blank = never)")
        self.save = pn.widgets.Button(label="Save stage", color="primary", align="end")
        self.new_stage = bound(pn.widgets.TextInput, form.param.new_stage, name="New stage name")
        self.add_stage = pn.widgets.Button(label="Add stage", align="end")
        self.new_pipeline = bound(pn.widgets.TextInput, form.param.new_pipeline, name="New pipeline name")
        self.add_pipeline = pn.widgets.Button(label="Create pipeline (copy of this one)", align="end")
        self.save.on_click(lambda _e: self._run(form.save))
        self.add_stage.on_click(lambda _e: self._run(form.add_stage))
        self.add_pipeline.on_click(lambda _e: self._run(form.add_pipeline))

    def refresh(self) -> None:
        """Show the stages as saved."""
        self.form.load()

    def _run(self, action: Callable[[], Any]) -> None:
        try:
            action()
        except CrmError as error:
            notify("error", str(error))
            if self._on_error is not None:
                self._on_error(str(error))
            return
        self.refresh()

    def __panel__(self) -> pn.viewable.Viewable:
        self.refresh()
        if read_only(self.model.workspace):  # a viewer sees the stages, not controls that fail on save
            return pn.Column(self.table, pn.pane.Markdown("*Read-only: your role lets you view the stages.*"))
        return pn.Column(
            self.table,
            pn.Row(self.stage, self.label, self.position),
            pn.Row(self.probability, self.status, self.rot_days, self.save),
            pn.Row(self.new_stage, self.add_stage),
            pn.Row(self.new_pipeline, self.add_pipeline),
        )
