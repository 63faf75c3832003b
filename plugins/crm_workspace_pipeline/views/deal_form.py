"""A deal's full form: its fields (with messages at the field), the people on it, its timeline."""

from __future__ import annotations

import html
from typing import Any

import panel as pn
import param

from crm_workspace.errors import ConflictError, CrmError, ValidationError

from ..model import PipelineModel
from .common import bound, html_table, notify

#: the form's fields, in order, with their labels (the deal's columns of the same names)
FIELDS = {
    "title": "Title",
    "amount": "Amount",
    "currency": "Currency",
    "probability": "Probability % (blank = stage default)",
    "expected_close": "Expected close (YYYY-MM-DD)",
    "owner": "Owner",
}


def _text(value: Any) -> str:
    return "" if value is None else (f"{value:g}" if isinstance(value, float) else str(value))


class DealForm(pn.viewable.Viewer):
    """The deal ``deal_id`` (none: hidden); its fields are text params the inputs are bound to.

    Text, not numbers: what a person typed stays as typed and the store's validation
    says at the field what is wrong with it.
    """

    model = param.ClassSelector(class_=PipelineModel)
    deal_id = param.Integer(default=None, allow_None=True)
    version = param.Integer(default=None, allow_None=True, doc="The version the form was loaded at.")
    title = param.String(default="")
    amount = param.String(default="")
    currency = param.String(default="")
    probability = param.String(default="")
    expected_close = param.String(default="")
    owner = param.String(default="")

    def __init__(self, **params: Any):
        super().__init__(**params)
        self.inputs = {
            name: bound(
                pn.widgets.TextInput, self.param[name], name=label, **({"width": 90} if name == "currency" else {})
            )
            for name, label in FIELDS.items()
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
        """Show the saved deal (its fields, people and timeline), or hide the form when there is none."""
        if self.deal_id is None:
            self.layout.visible = False
            return
        deal = self.model.deal(self.deal_id)
        self.param.update(version=deal["version"], **{name: _text(deal.get(name)) for name in FIELDS})
        self.errors.visible = False
        stage = f"{deal['stage']} · {deal['status']}"
        if deal.get("lost_reason"):
            stage += f" ({deal['lost_reason']})"
        self.header.object = (
            f"### {html.escape(deal['title'] or '')}\n\n{html.escape(stage)} · version {deal['version']}"
        )
        self.contacts.object = html_table(
            self.model.deal_contacts(self.deal_id), ["first_name", "last_name", "title", "email", "phone"]
        )
        self.timeline.object = html_table(self.model.deal_timeline(self.deal_id), ["at", "kind", "subject", "who"])
        self.layout.title = f"Deal #{self.deal_id}"
        self.layout.visible = True

    def _show_errors(self, text: str) -> None:
        self.errors.param.update(object=text, visible=True)

    def _save(self, _event: Any = None) -> None:
        changes = {name: getattr(self, name) for name in FIELDS}
        try:
            self.model.save_deal(self.deal_id, changes, self.version)
        except ValidationError as error:
            self._show_errors("\n".join(f"- **{html.escape(k)}**: {html.escape(v)}" for k, v in error.errors.items()))
            return
        except ConflictError as error:
            self.load()
            self._show_errors(html.escape(str(error)) + " — the form now shows the saved record.")
            return
        except CrmError as error:
            self._show_errors(html.escape(str(error)))
            return
        notify("success", "Deal saved")
        self.load()

    def __panel__(self) -> pn.viewable.Viewable:
        return self.layout
