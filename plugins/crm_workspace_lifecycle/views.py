"""Lifecycle page: contacts per stage, in the workspace's stage order."""

from __future__ import annotations

import panel as pn
import param

from crm_workspace import Workspace


class StageCounts(pn.viewable.Viewer):
    workspace = param.ClassSelector(class_=Workspace)

    @param.depends("workspace.revision")
    def _table(self):
        counts = {
            row["lifecycle_stage"]: row["n"]
            for row in self.workspace.query(
                "SELECT lifecycle_stage, count(*) AS n FROM contacts GROUP BY lifecycle_stage"
            )
        }
        import pandas as pd

        frame = pd.DataFrame(
            {"stage": stage, "contacts": counts.get(stage, 0)} for stage in self.workspace.lifecycle_stages()
        )
        return pn.widgets.Tabulator(frame, show_index=False, disabled=True)

    def __panel__(self):
        return pn.Column("## Lifecycle", self._table)
