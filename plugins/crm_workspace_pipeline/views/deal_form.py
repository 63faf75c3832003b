"""A deal's form, in a side panel over the board: pickers for owner, organization and contact, a date
picker for the close, its people and timeline; a stale save shows both versions instead of losing either."""

from __future__ import annotations

import html
from typing import Any

import panel as pn
import param

from crm_workspace.errors import ConflictError, CrmError, ValidationError
from crm_workspace.web.display import day, label
from crm_workspace.web.pickers import RecordPicker

from ..model import PipelineModel
from ..values import Day, blank, money
from .common import PERSON_COLUMNS, TIMELINE_COLUMNS, bound, html_table, notify

#: the form's fields, in order, with their labels (the deal's columns of the same names)
FIELDS = {
    "title": "Title",
    "amount": "Amount",
    "currency": "Currency",
    "probability": "Probability % (blank = stage default)",
    "expected_close": "Expected close",
    "owner": "Owner",
    "organization_id": "Organization",
    "contact_id": "Contact",
}

#: where the form opens: a panel at the right of the window, over the board, whatever the scroll
DRAWER = {
    "position": "fixed",
    "top": "12px",
    "right": "12px",
    "max-height": "calc(100vh - 24px)",
    "overflow-y": "auto",
    "z-index": "1000",
    "background": "white",
    "border": "1px solid #dde2e8",
    "border-radius": "8px",
    "box-shadow": "0 8px 28px rgba(0, 0, 0, 0.18)",
    "padding": "8px 12px",
}


def _text(value: Any) -> str:
    return "" if value is None else (f"{value:g}" if isinstance(value, float) else str(value))


class DealForm(pn.viewable.Viewer):
    """The deal ``deal_id`` (none: hidden). Title, amount and probability are text params, so what a
    person typed stays as typed and validation says at the field what is wrong; owner, organization and
    contact are chosen from the team and the database; the close date from a calendar.
    """

    model = param.ClassSelector(class_=PipelineModel)
    deal_id = param.Integer(default=None, allow_None=True)
    version = param.Integer(default=None, allow_None=True, doc="The version the form was loaded at.")
    title = param.String(default="")
    amount = param.String(default="")
    currency = param.String(default="")
    probability = param.String(default="")
    expected_close = Day(default=None, allow_None=True)
    owner = param.String(default="", doc="The owner's username; blank for nobody (a picker's empty value).")
    organization_id = param.Integer(default=None, allow_None=True)
    contact_id = param.Integer(default=None, allow_None=True)
    conflict = param.ClassSelector(class_=ConflictError, default=None, allow_None=True, doc="A refused stale save.")

    def __init__(self, **params: Any):
        super().__init__(**params)
        text = {name: bound(pn.widgets.TextInput, self.param[name], name=FIELDS[name]) for name in ("title",)}
        text["amount"] = bound(pn.widgets.TextInput, self.param.amount, name="Amount", width=150)
        text["currency"] = bound(pn.widgets.TextInput, self.param.currency, name="Currency", width=80)
        text["probability"] = bound(pn.widgets.TextInput, self.param.probability, name=FIELDS["probability"])
        self.inputs: dict[str, pn.widgets.Widget | RecordPicker] = {
            **text,
            "expected_close": bound(pn.widgets.DatePicker, self.param.expected_close, name=FIELDS["expected_close"]),
            # the team is short: all of it is sent, and filtered in the browser as typed
            "owner": bound(
                pn.widgets.AutocompleteInput,
                self.param.owner,
                name="Owner",
                options={},
                placeholder="type to search",
                restrict=True,
                search_strategy="includes",
                case_sensitive=False,
                min_characters=1,
            ),
            # a workspace may hold tens of thousands: searched on the server as typed
            "organization_id": RecordPicker.from_param(
                self.param.organization_id,
                choices=self.model.organization_choices,
                label="Organization",
                none_label="(no organization)",
            ),
            "contact_id": RecordPicker.from_param(
                self.param.contact_id, choices=self._contact_choices, label="Contact", none_label="(no contact)"
            ),
        }
        self.inputs["owner"].param.watch(self._owner_emptied, "value_input")
        self.inputs["owner"].param.watch(self._echo_label, "value")
        self.errors = pn.pane.Alert("", alert_type="warning", visible=False, sizing_mode="stretch_width")
        self.conflict_view = pn.Column(sizing_mode="stretch_width")
        self.save_button = pn.widgets.Button(label="Save deal", color="primary")
        self.close_button = pn.widgets.Button(label="Close")
        self.save_button.on_click(self._save)
        self.close_button.on_click(lambda _e: self.param.update(deal_id=None))
        self.heading = pn.pane.HTML("", sizing_mode="stretch_width")
        self.contacts = pn.pane.HTML("")
        self.timeline = pn.pane.HTML("")
        self.loaded: dict[str, Any] = {}
        self.layout = pn.Column(
            self.heading,
            self.inputs["title"],
            pn.Row(self.inputs["amount"], self.inputs["currency"], self.inputs["expected_close"]),
            pn.Row(self.inputs["owner"], self.inputs["probability"]),
            pn.Row(self.inputs["organization_id"], self.inputs["contact_id"]),
            self.errors,
            self.conflict_view,
            pn.Row(self.save_button, self.close_button),
            pn.pane.HTML("<b>Contacts on the deal</b>"),
            self.contacts,
            pn.pane.HTML("<b>Timeline</b>"),
            self.timeline,
            visible=False,
            width=680,
            styles=DRAWER,
            css_classes=["pl-deal-form"],
        )

    # ------------------------------------------------------------ pickers
    def _owner_options(self, owner: str | None) -> dict[str, Any]:
        options = self.model.owner_choices()
        if not blank(owner) and owner not in options.values():
            options[f"{owner} (not on the team)"] = owner  # shown as saved; choosing it again is refused
        return options

    def _owner_emptied(self, event: param.parameterized.Event) -> None:
        """The owner's box emptied by the person: nobody.

        A restricted picker keeps its last choice while its box holds text that chose
        nothing, so an emptied box saved the old owner as if nothing changed.
        """
        if event.new == "":
            self.owner = ""

    @staticmethod
    def _echo_label(event: param.parameterized.Event) -> None:
        """The box's text (``value_input``) follows a choice made here, so that emptying it is a change.

        The browser reports the text only when it differs from the last it knows: a box
        filled by the server and cleared at once (select all, delete) reported nothing.
        """
        picker = event.obj
        if event.new in (None, ""):
            picker.value_input = ""
        elif (text := next((t for t, value in picker.options.items() if value == event.new), None)) is not None:
            picker.value_input = text

    def _contact_choices(self, text: str, current: int | None) -> dict[str, int]:
        """Contacts matching ``text``, the people of the deal's organization first."""
        return self.model.contact_choices(text, current=current, organization_id=self.organization_id)

    # -------------------------------------------------------------- load
    @param.depends("deal_id", watch=True)
    def load(self) -> None:
        """Show the saved deal (its fields, people and timeline), or hide the form when there is none."""
        if self.deal_id is None:
            self.layout.visible = False
            return
        deal = self.model.deal_card(self.deal_id)
        self.loaded = deal
        self.inputs["owner"].options = self._owner_options(deal["owner"])
        self.param.update(
            version=deal["version"],
            conflict=None,
            expected_close=deal["expected_close"],
            owner=deal["owner"] or "",
            organization_id=deal["organization_id"],
            contact_id=deal["contact_id"],
            **{name: _text(deal.get(name)) for name in ("title", "amount", "currency", "probability")},
        )
        for name in ("organization_id", "contact_id"):
            self.inputs[name].clear_search()  # not what was typed for the deal shown before
        self.errors.visible = False
        self._draw_heading(deal)
        self.contacts.object = html_table(self.model.deal_contacts(self.deal_id), PERSON_COLUMNS)
        self.timeline.object = html_table(self.model.deal_timeline(self.deal_id), TIMELINE_COLUMNS)
        self.layout.visible = True

    def _draw_heading(self, deal: dict[str, Any]) -> None:
        stage = deal.get("stage_label") or deal["stage"]
        if deal["status"] != "open":
            stage += f" · {label(deal['status'])}"
        if deal.get("lost_reason"):
            stage += f" ({deal['lost_reason']})"
        amount = money(deal["amount"], deal["currency"])
        facts = " · ".join(html.escape(str(p)) for p in (stage, amount, deal.get("organization")) if p)
        self.heading.object = (
            f"<div style='font-size:18px;font-weight:600'>{html.escape(deal['title'] or '')}</div>"
            f"<div style='color:#5f6b7a'>{facts}</div>"
        )

    # -------------------------------------------------------------- save
    def changes(self) -> dict[str, Any]:
        """What the form would save: its fields as typed or chosen."""
        values = {name: getattr(self, name) for name in FIELDS}
        if values["expected_close"] is not None:
            values["expected_close"] = values["expected_close"].isoformat()
        values["owner"] = values["owner"] or None
        return values

    def _show_errors(self, text: str) -> None:
        self.errors.param.update(object=text, visible=True)

    def _save(self, _event: Any = None, *, version: int | None = None) -> bool:
        try:
            self.model.save_deal(self.deal_id, self.changes(), self.version if version is None else version)
        except ValidationError as error:
            self._show_errors(
                "\n".join(f"- **{html.escape(FIELDS.get(k, k))}**: {html.escape(v)}" for k, v in error.errors.items())
            )
            return False
        except ConflictError as error:
            self.conflict = error  # the form keeps what was typed; both versions are shown
            return False
        except CrmError as error:
            self._show_errors(html.escape(str(error)))
            return False
        notify("success", "Deal saved")
        self.load()
        return True

    def overwrite_with_mine(self, _event: Any = None) -> bool:
        """Save what this form holds over the other person's version (the one the conflict showed)."""
        return self._save(version=self.conflict.theirs.get("version"))

    def keep_theirs(self, _event: Any = None) -> None:
        """Drop this form's edits and show the saved deal."""
        self.load()

    @param.depends("conflict", watch=True)
    def _draw_conflict(self) -> None:
        if self.conflict is None:
            self.conflict_view.objects = []
            return
        theirs, mine = self.conflict.theirs, self.changes()
        rows = "".join(
            f"<tr><td>{html.escape(FIELDS[name])}</td><td>{html.escape(self._shown(name, self.loaded.get(name)))}</td>"
            f"<td><b>{html.escape(self._shown(name, mine.get(name)))}</b></td>"
            f"<td><b>{html.escape(self._shown(name, theirs.get(name)))}</b></td></tr>"
            for name in FIELDS
            if _differs(mine.get(name), self.loaded.get(name)) or _differs(theirs.get(name), self.loaded.get(name))
        )
        by = html.escape(str(theirs.get("updated_by") or "someone else"))
        table = pn.pane.HTML(
            f"<div class='pl-conflict' style='background:#fff4e5;border:1px solid #f0c27b;border-radius:6px;"
            f"padding:8px'><b>{by} changed this deal since you opened it.</b> Nothing was saved yet."
            "<table style='border-collapse:collapse;font-size:13px;margin-top:4px'>"
            "<tr><th align='left'>Field</th><th align='left'>When you opened it</th><th align='left'>Yours</th>"
            f"<th align='left'>Theirs (saved)</th></tr>{rows}</table></div>",
            sizing_mode="stretch_width",
        )
        mine_button = pn.widgets.Button(label="Overwrite with mine", color="warning")
        theirs_button = pn.widgets.Button(label="Keep theirs")
        mine_button.on_click(self.overwrite_with_mine)
        theirs_button.on_click(self.keep_theirs)
        self.conflict_view.objects = [
            table,
            pn.Row(mine_button, theirs_button),
        ]

    def _shown(self, name: str, value: Any) -> str:
        """A field's value as a person reads it: names for ids, money for amounts."""
        if blank(value):
            return ""
        if name == "organization_id":
            return next(iter(self.model.organization_choices(current=int(value))), str(value))
        if name == "contact_id":
            return next(iter(self.model.contact_choices(current=int(value))), str(value))
        if name == "owner":
            return next((k for k, v in self.model.owner_choices().items() if v == value), str(value))
        if name == "expected_close":
            return day(value)
        if name == "amount":
            try:
                return money(float(value), self.currency or self.loaded.get("currency"))
            except (TypeError, ValueError):
                return str(value)
        return _text(value)

    def __panel__(self) -> pn.viewable.Viewable:
        return self.layout


def _differs(a: Any, b: Any) -> bool:
    """Whether two values of a field differ as a person would see it (1 and "1", None and "")."""
    return _text(a).strip() != _text(b).strip() and not (_number(a) == _number(b) is not None)


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
