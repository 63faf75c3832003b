"""What the contact and organization lists share: open a clicked row, the new-record form, export."""

from __future__ import annotations

from typing import Any

import panel as pn

from .forms import RecordForm


class RecordListActions:
    """Mixed into a list view that has ``workspace``, ``model``, ``table`` and ``form_area``."""

    #: the table the list shows; also the page a row opens (``?page=<table>&id=N``)
    record_table = "contacts"
    #: the heading of the new-record form
    new_title = "New contact"

    def _open(self, event: Any) -> None:
        try:
            row = self.table.value.iloc[event.row]
        except IndexError:  # a click on a row the next keystroke already replaced
            return
        self.workspace.open_page(self.record_table, id=int(row["id"]))

    def _show_form(self) -> None:
        def done(row: dict | None) -> None:
            self.form_area.objects = []
            if row:
                self.workspace.open_page(self.record_table, id=int(row["id"]))

        self.form_area.objects = [
            pn.pane.Markdown(f"### {self.new_title}"),
            RecordForm(workspace=self.workspace, table=self.record_table, on_done=done),
        ]

    def _export(self):
        return self.model.to_xlsx()
