"""Import page: the import batches so far."""

from __future__ import annotations

import panel as pn
import param

from crm_workspace import Workspace


class ImportBatches(pn.viewable.Viewer):
    workspace = param.ClassSelector(class_=Workspace)

    @param.depends("workspace.revision")
    def _table(self):
        frame = self.workspace.df("import_batches", order_by="at DESC", limit=100)
        if frame.empty:
            return pn.pane.Markdown("No imports yet.")
        return pn.widgets.Tabulator(frame, show_index=False, disabled=True)

    def __panel__(self):
        return pn.Column("## Import batches", self._table)
