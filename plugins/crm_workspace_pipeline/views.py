"""Pipeline page: count and value of deals per stage, aggregated in SQL."""

from __future__ import annotations

import html

import panel as pn
import param

from crm_workspace import Workspace

STAGE_TOTALS = """
SELECT s.stage, s.position, count(d.id) AS deals, coalesce(sum(d.amount), 0) AS amount,
       coalesce(sum(d.amount * d.probability / 100.0), 0) AS weighted
FROM pipeline_stages s LEFT JOIN deals d ON d.stage = s.stage
WHERE s.pipeline = 'default' GROUP BY s.stage ORDER BY s.position
"""


class StageSummary(pn.viewable.Viewer):
    workspace = param.ClassSelector(class_=Workspace)

    @param.depends("workspace.revision")
    def _columns(self):
        cards = [
            pn.pane.HTML(
                f"<b>{html.escape(row['stage'])}</b><br>{row['deals']} deals<br>{row['amount']:,.0f} EUR"
                f"<br><small>weighted {row['weighted']:,.0f}</small>",
                styles={"border": "1px solid #ddd", "padding": "8px", "border-radius": "6px"},
                width=160,
            )
            for row in self.workspace.query(STAGE_TOTALS)
        ]
        return pn.Row(*cards)

    def __panel__(self):
        return pn.Column("## Pipeline", self._columns)
