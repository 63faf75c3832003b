"""Pipeline board: deals by stage, drag and drop, forecast, rotting deals, won/lost."""

from __future__ import annotations

import sqlite_utils

from crm_workspace import Metric, Page, RecordSection, hookimpl
from crm_workspace.data.schema import DEAL_STAGES

migrations = sqlite_utils.Migrations("crm_workspace.pipeline")

#: Default days without a stage change or activity after which an open deal rots.
DEFAULT_ROT_DAYS = {"qualification": 14, "needs_analysis": 14, "proposal": 21, "negotiation": 21}


@migrations()
def m001_pipeline_stages(db):
    db["pipeline_stages"].insert_all(
        [
            {"pipeline": "default", "stage": stage, "position": i, "probability": probability, "status": status}
            for i, (stage, probability, status) in enumerate(DEAL_STAGES)
        ],
        pk=("pipeline", "stage"),
    )


@migrations()
def m002_configurable_stages(db):
    """Stages get an id (so the Store can write them), a label and a rot limit; deals get a pipeline."""
    db.execute("ALTER TABLE pipeline_stages RENAME TO _pipeline_stages_v1")
    db["pipeline_stages"].create(
        {
            "id": int,
            "pipeline": str,
            "stage": str,
            "label": str,
            "position": int,
            "probability": float,
            "status": str,
            "rot_days": int,
        },
        pk="id",
        not_null={"pipeline", "stage", "status"},
        defaults={"status": "open", "position": 0, "probability": 0},
    )
    old = db.execute("SELECT pipeline, stage, position, probability, status FROM _pipeline_stages_v1").fetchall()
    db["pipeline_stages"].insert_all(
        {
            "pipeline": pipeline,
            "stage": stage,
            "label": stage.replace("_", " ").capitalize(),
            "position": position,
            "probability": probability,
            "status": status,
            "rot_days": DEFAULT_ROT_DAYS.get(stage, 21 if status == "open" else None),
        }
        for pipeline, stage, position, probability, status in old
    )
    db.execute("DROP TABLE _pipeline_stages_v1")
    db.execute("CREATE UNIQUE INDEX idx_pipeline_stages_key ON pipeline_stages(pipeline, stage)")

    deals = db["deals"]
    deals.add_column("pipeline", str, not_null_default="default")
    deals.add_column("stage_changed_at", str)
    deals.add_column("probability_manual", int, not_null_default=0)
    db.execute("UPDATE deals SET stage_changed_at = coalesce(closed_at, created_at) WHERE stage_changed_at IS NULL")
    db.execute("CREATE INDEX idx_deals_board ON deals(pipeline, stage, expected_close, id)")

    # Column header totals of the unfiltered board, kept exact by triggers on every
    # write (Store writes and bulk loads alike): the board at 200k deals reads six rows.
    db["pipeline_totals"].create(
        {"pipeline": str, "stage": str, "deals": int, "amount": float, "weighted": float},
        pk=("pipeline", "stage"),
        defaults={"deals": 0, "amount": 0, "weighted": 0},
    )
    db.execute(
        "INSERT INTO pipeline_totals (pipeline, stage, deals, amount, weighted)"
        " SELECT pipeline, coalesce(stage, ''), count(*), total(amount), total(amount * probability / 100.0)"
        " FROM deals GROUP BY pipeline, coalesce(stage, '')"
    )
    add = (
        "INSERT OR IGNORE INTO pipeline_totals (pipeline, stage) VALUES (NEW.pipeline, coalesce(NEW.stage, ''));"
        " UPDATE pipeline_totals SET deals = deals + 1, amount = amount + coalesce(NEW.amount, 0),"
        " weighted = weighted + coalesce(NEW.amount, 0) * coalesce(NEW.probability, 0) / 100.0"
        " WHERE pipeline = NEW.pipeline AND stage = coalesce(NEW.stage, '');"
    )
    remove = (
        " UPDATE pipeline_totals SET deals = deals - 1, amount = amount - coalesce(OLD.amount, 0),"
        " weighted = weighted - coalesce(OLD.amount, 0) * coalesce(OLD.probability, 0) / 100.0"
        " WHERE pipeline = OLD.pipeline AND stage = coalesce(OLD.stage, '');"
    )
    db.execute(f"CREATE TRIGGER pipeline_totals_insert AFTER INSERT ON deals BEGIN {add} END")
    db.execute(f"CREATE TRIGGER pipeline_totals_delete AFTER DELETE ON deals BEGIN {remove} END")
    db.execute(
        "CREATE TRIGGER pipeline_totals_update AFTER UPDATE OF pipeline, stage, amount, probability ON deals"
        f" BEGIN {remove} {add} END"
    )


@migrations()
def m003_covering_index(db):
    """Filtered totals and forecasts scan this index instead of the table (no row lookups)."""
    db.execute(
        "CREATE INDEX idx_deals_pipeline_cover ON deals(pipeline, stage, status, owner, expected_close,"
        " amount, probability, organization_id)"
    )


@hookimpl
def crm_migrations():
    return migrations


@hookimpl
def crm_dashboards(workspace):
    def view(ws):
        from .views import PipelinePage

        return PipelinePage(workspace=ws)

    return [Page("pipeline", "Pipeline", view, icon="layout-kanban", order=20, extensions=("tabulator",))]


@hookimpl
def crm_metrics(workspace):
    # pipeline_totals (kept by triggers) makes these six-row reads at any size
    open_stages = (
        "FROM pipeline_totals t JOIN pipeline_stages s ON s.pipeline = t.pipeline AND s.stage = t.stage"
        " WHERE s.status = 'open'"
    )
    sql = f"SELECT coalesce(sum(t.amount), 0) {open_stages}"
    weighted_sql = f"SELECT coalesce(sum(t.weighted), 0) {open_stages}"
    return [
        Metric("pipeline_value", "Open pipeline (EUR)", workspace.store.scalar(sql), sql=sql, fmt="{:,.0f}"),
        Metric(
            "pipeline_weighted",
            "Weighted pipeline (EUR)",
            workspace.store.scalar(weighted_sql),
            sql=weighted_sql,
            fmt="{:,.0f}",
            page="pipeline",
        ),
    ]


@hookimpl
def crm_register_commands(cli):
    from .commands import register

    register(cli)


@hookimpl
def crm_validate_record(workspace, table, record, before):
    if table != "deals":
        return None
    from .stages import validate_deal

    return validate_deal(workspace, record, before)


@hookimpl
def crm_data_views(workspace):
    from .model import PipelineModel

    def view(method):
        def run(**filters):
            return getattr(PipelineModel(workspace=workspace, **filters), method)()

        run.__doc__ = getattr(PipelineModel, method).__doc__
        return run

    return {
        "pipeline.board": view("totals_frame"),
        "pipeline.cards": view("cards_frame"),
        "pipeline.forecast_by_month": view("forecast_by_month"),
        "pipeline.forecast_by_owner": view("forecast_by_owner"),
        "pipeline.kpis": view("kpis_frame"),
        "pipeline.slipped": view("slipped"),
        "pipeline.stages": view("stages_frame"),
    }


@hookimpl
def crm_record_sections(workspace, table, record_id):
    if table not in ("contacts", "organizations"):
        return None

    def view():
        from .views import deals_section

        return deals_section(workspace, table, int(record_id))

    return [RecordSection("Deals", view, order=30, key="pipeline.deals")]
