"""Relationships page: relationships by kind (aggregated in SQL)."""

from __future__ import annotations

import panel as pn
import param

from crm_workspace import Workspace


class RelationshipSummary(pn.viewable.Viewer):
    workspace = param.ClassSelector(class_=Workspace)

    @param.depends("workspace.revision")
    def _table(self):
        frame = self.workspace.df(
            "SELECT kind, count(*) AS relationships, round(avg(strength), 1) AS avg_strength"
            " FROM relationships GROUP BY kind ORDER BY relationships DESC"
        )
        return pn.widgets.Tabulator(frame, show_index=False, disabled=True)

    def __panel__(self):
        return pn.Column("## Relationships", self._table)
