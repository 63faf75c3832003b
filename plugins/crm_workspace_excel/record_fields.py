"""A record's custom fields (spreadsheet columns an import kept), shown and edited on its record page."""

from __future__ import annotations

import html

import panel as pn
import param

from crm_workspace import CrmError, Workspace

from .execute import custom_fields, save_custom_fields

#: the longest value a custom field keeps (like a contact's text fields)
MAX_LENGTH = 500


class CustomFieldsSection(pn.viewable.Viewer):
    """One input per custom field and a Save button; a read-only user sees the values only."""

    workspace = param.ClassSelector(class_=Workspace)
    table = param.String(default="contacts")
    record_id = param.Integer()
    message = param.String(default="")

    def __init__(self, **params):
        super().__init__(**params)
        self.values = custom_fields(self.workspace, self.table, self.record_id)
        self.inputs = {
            name: pn.widgets.TextInput(label=name, value=value, max_length=MAX_LENGTH, width=260)
            for name, value in self.values.items()
        }
        self.save = pn.widgets.Button(label="Save custom fields", color="primary", width=170)
        self.save.on_click(lambda _e: self.save_values())

    def save_values(self) -> int:
        values = {name: widget.value for name, widget in self.inputs.items()}
        too_long = [name for name, value in values.items() if len(value or "") > MAX_LENGTH]
        if too_long:
            self.message = f"{too_long[0]}: at most {MAX_LENGTH} characters"
            return 0
        try:
            changed = save_custom_fields(self.workspace, self.table, self.record_id, values)
        except CrmError as error:
            self.message = str(error)
            return 0
        self.values = custom_fields(self.workspace, self.table, self.record_id)
        self.message = f"Saved ({changed} changed)." if changed else "Nothing changed."
        return changed

    @param.depends("message")
    def _message(self):
        return pn.pane.Markdown(html.escape(self.message))

    def __panel__(self):
        if not self.values:
            return pn.pane.Markdown("No custom fields.")
        if self.workspace.read_only:
            rows = "".join(
                f"<tr><td>{html.escape(k)}</td><td>{html.escape(v or '')}</td></tr>" for k, v in self.values.items()
            )
            return pn.pane.HTML(f"<table class='crm-fields'>{rows}</table>")
        return pn.Column(pn.FlexBox(*self.inputs.values()), pn.Row(self.save, self._message))
