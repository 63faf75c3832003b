"""Excel import and export."""

from __future__ import annotations

from crm_workspace import Page, hookimpl


@hookimpl
def crm_dashboards(workspace):
    def view(ws):
        from .views import ImportBatches

        return ImportBatches(workspace=ws)

    return [Page("excel", "Import / export", view, icon="📥", order=50, extensions=("tabulator",))]
