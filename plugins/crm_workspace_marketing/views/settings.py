"""The machine-event rules card: what the team says no person did (and the click rule)."""

from __future__ import annotations

import panel as pn
import param

from crm_workspace import CrmError

from ..model import MachineRules
from .common import button, say


class RulesCard(pn.viewable.Viewer):
    rules = param.ClassSelector(class_=MachineRules)

    def __init__(self, **params):
        super().__init__(**params)
        ro = self.rules.workspace.read_only
        self.message = pn.Column()
        self.save_button = button("Save rules", ro, width=140)
        self.save_button.on_click(self._save)
        self.inputs = [
            pn.widgets.IntInput.from_param(self.rules.param.seconds, width=320, disabled=ro),
            pn.widgets.TextAreaInput.from_param(self.rules.param.agents, height=160, width=420, disabled=ro),
            pn.widgets.Checkbox.from_param(self.rules.param.click_qualifies, disabled=ro),
        ]

    def _save(self, _event=None) -> None:
        try:
            self.rules.save()
        except CrmError as error:
            say(self.message, str(error), "danger")
            return
        say(self.message, "Rules saved: they apply to the next opens and clicks.")

    def __panel__(self):
        return pn.Card(
            pn.pane.Markdown(
                "Opens and clicks these rules match are kept but never count as a person's, never land on the "
                "timeline and never unsubscribe anyone."
            ),
            *self.inputs,
            self.save_button,
            self.message,
            title="Machine-event rules",
            collapsed=True,
            sizing_mode="stretch_width",
        )
