"""Pipeline board: deals by stage."""

from __future__ import annotations

import sqlite_utils

from crm_workspace import Metric, Page, hookimpl
from crm_workspace.schema import DEAL_STAGES

migrations = sqlite_utils.Migrations("crm_workspace.pipeline")


@migrations()
def m001_pipeline_stages(db):
    db["pipeline_stages"].insert_all(
        [
            {"pipeline": "default", "stage": stage, "position": i, "probability": probability, "status": status}
            for i, (stage, probability, status) in enumerate(DEAL_STAGES)
        ],
        pk=("pipeline", "stage"),
    )


@hookimpl
def crm_migrations():
    return migrations


@hookimpl
def crm_dashboards(workspace):
    def view(ws):
        from .views import StageSummary

        return StageSummary(workspace=ws)

    return [Page("pipeline", "Pipeline", view, icon="📊", order=20)]


@hookimpl
def crm_metrics(workspace):
    sql = "SELECT coalesce(sum(amount), 0) FROM deals WHERE status = 'open'"
    return [Metric("pipeline_value", "Open pipeline (EUR)", workspace.store.scalar(sql), sql=sql, fmt="{:,.0f}")]
