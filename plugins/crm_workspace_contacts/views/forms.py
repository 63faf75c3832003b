"""The contact/organization form: fields bound to a draft, field errors, and a stale save's conflict."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import panel as pn
import param

from crm_workspace import Workspace

from ..drafts import DRAFTS, RecordDraft
from ..labels import field_label
from .common import CSS, E


class RecordForm(pn.viewable.Viewer):
    """Create or edit one contact/organization with the version it was loaded at.

    A stale save shows both versions (yours and theirs) instead of overwriting.
    ``on_done(row)`` is called with the saved row, or None on cancel.
    """

    workspace = param.ClassSelector(class_=Workspace)
    table = param.Selector(objects=list(DRAFTS), default="contacts")
    record_id = param.Integer(default=None, allow_None=True)

    def __init__(self, on_done: Callable[[dict | None], Any] | None = None, **params: Any):
        super().__init__(**params)
        self._on_done = on_done
        self.draft: RecordDraft = DRAFTS[self.table](workspace=self.workspace, record_id=self.record_id)
        self.widgets: dict[str, pn.widgets.Widget] = {name: self._widget(name) for name in self.draft.fields}
        self.errors: dict[str, pn.pane.Alert] = {
            name: pn.pane.Alert("", alert_type="danger", visible=False, margin=(0, 10)) for name in self.draft.fields
        }
        self.message = pn.Column()
        self.save = pn.widgets.Button(label="Save", color="primary")
        self.cancel = pn.widgets.Button(label="Cancel")
        self.save.on_click(lambda _e: self.submit())
        self.cancel.on_click(lambda _e: self._done(None))
        self.draft.param.watch(self._show_errors, "errors")
        self.draft.param.watch(self._show_message, ["problems", "conflict"])

    def _widget(self, name: str) -> pn.widgets.Widget:
        parameter = self.draft.param_of(name)
        choices = self.draft.choices(name)
        if choices is not None:
            return pn.widgets.Select.from_param(parameter, options=choices)
        if name == "notes":
            return pn.widgets.TextAreaInput.from_param(parameter, height=80)
        return pn.widgets.TextInput.from_param(parameter)

    def values(self) -> dict[str, Any]:
        return self.draft.values()

    def submit(self, *, force_version: int | None = None) -> dict | None:
        """Save; the saved row (and the form is done), or None with the errors shown."""
        row = self.draft.save(force_version=force_version)
        if row is not None:
            self._done(row)
        return row

    def _show_errors(self, _event: Any = None) -> None:
        for name, alert in self.errors.items():
            text = self.draft.errors.get(name)
            shown = f"{E(field_label(self.table, name))}: {E(text)}" if text else ""
            alert.param.update(object=shown, visible=bool(text))

    def _show_message(self, _event: Any = None) -> None:
        parts: list[Any] = [pn.pane.Alert(E(text), alert_type="danger") for text in self.draft.problems]
        if self.draft.conflict is not None:
            parts.append(self._conflict())
        self.message.objects = parts

    def _conflict(self) -> pn.viewable.Viewable:
        error, loaded = self.draft.conflict, self.draft.loaded
        rows = "".join(
            f"<tr><td>{E(field_label(self.table, n))}</td><td>{E(str(loaded.get(n) or ''))}</td>"
            f"<td><b>{E(str(error.mine.get(n, loaded.get(n)) or ''))}</b></td>"
            f"<td><b>{E(str(error.theirs.get(n) or ''))}</b></td></tr>"
            for n in self.draft.conflicting_fields()
        )
        table = pn.pane.HTML(
            "<div class='crm-conflict'><b>Conflict:</b> " + E(str(error)) + "<table class='crm-fields'>"
            "<tr><td>Field</td><td>When you opened it</td><td>Yours</td><td>Theirs (saved)</td></tr>"
            f"{rows}</table></div>",
            stylesheets=[CSS],
        )
        keep_mine = pn.widgets.Button(label="Overwrite with mine", color="warning")
        take_theirs = pn.widgets.Button(label="Discard mine, reload theirs")
        theirs_version = error.theirs.get("version")
        keep_mine.on_click(lambda _e: self.submit(force_version=theirs_version))
        take_theirs.on_click(lambda _e: self._done(None))
        return pn.Column(
            pn.pane.Alert("This record was changed by someone else since you opened it.", alert_type="warning"),
            table,
            pn.Row(keep_mine, take_theirs),
        )

    def _done(self, row: dict | None) -> None:
        if self._on_done:
            self._on_done(row)

    def __panel__(self) -> pn.viewable.Viewable:
        items: list[Any] = []
        for name, widget in self.widgets.items():
            items.extend([widget, self.errors[name]])
        return pn.Column(*items, self.message, pn.Row(self.save, self.cancel), width=460)
