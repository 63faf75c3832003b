"""Stakeholder relationship map: who knows, reports to, influences whom."""

from __future__ import annotations

from crm_workspace import Metric, Page, hookimpl


@hookimpl
def crm_dashboards(workspace):
    def view(ws):
        from .views import RelationshipSummary

        return RelationshipSummary(workspace=ws)

    return [Page("relationships", "Relationships", view, icon="🕸️", order=30, extensions=("tabulator",))]


@hookimpl
def crm_metrics(workspace):
    sql = "SELECT count(*) FROM relationships"
    return [Metric("relationships", "Relationships", workspace.store.scalar(sql), sql=sql)]
