"""Pipeline board: deals by stage, drag and drop, forecast, rotting deals, won/lost."""

from __future__ import annotations

from crm_workspace import ApiResource, Metric, Page, PersonalData, RecordSection, Setting, hookimpl

from .schema import migrations


@hookimpl
def crm_migrations():
    return migrations


def _currency(value):
    code = value.strip().upper() if isinstance(value, str) else value
    if not (isinstance(code, str) and len(code) == 3 and code.isascii() and code.isalpha()):
        raise ValueError(f"must be a 3-letter currency code such as EUR or USD, not {value!r}")
    return code


@hookimpl
def crm_settings():
    """The workspace currency: how amounts are shown (display only, so members may set it)."""
    from .values import DEFAULT_CURRENCY

    return [
        Setting("currency", _currency, DEFAULT_CURRENCY, admin_only=False, doc="The currency amounts are shown in.")
    ]


@hookimpl
def crm_dashboards(workspace):
    def view(ws):
        from .views import PipelinePage

        return PipelinePage(workspace=ws)

    return [Page("pipeline", "Pipeline", view, icon="layout-kanban", order=20)]


@hookimpl
def crm_metrics(workspace):
    # pipeline_totals (kept by triggers) makes these six-row reads at any size
    open_stages = (
        "FROM pipeline_totals t JOIN pipeline_stages s ON s.pipeline = t.pipeline AND s.stage = t.stage"
        " WHERE s.status = 'open'"
    )
    sql = f"SELECT coalesce(sum(t.amount), 0) {open_stages}"
    weighted_sql = f"SELECT coalesce(sum(t.weighted), 0) {open_stages}"
    from .values import DEFAULT_CURRENCY

    currency = str(workspace.setting("currency", DEFAULT_CURRENCY) or DEFAULT_CURRENCY).upper()
    return [
        Metric("pipeline_value", f"Open pipeline ({currency})", workspace.store.scalar(sql), sql=sql, fmt="{:,.0f}"),
        Metric(
            "pipeline_weighted",
            f"Weighted pipeline ({currency})",
            workspace.store.scalar(weighted_sql),
            sql=weighted_sql,
            fmt="{:,.0f}",
            page="pipeline",
        ),
    ]


@hookimpl
def crm_demo_data(workspace, seed, size, today):
    """Deals across every stage (half as many as contacts), and activities linked to them."""
    from .demo import add_demo_deals

    add_demo_deals(workspace, seed, size, today)


@hookimpl
def crm_register_commands(cli):
    from .commands import register

    register(cli)


@hookimpl
def crm_validate_record(workspace, table, record, before):
    if table != "deals":
        return None
    from .rules import validate

    return validate(workspace, record, before)


crm_validate_record.tables = ("deals",)  # the Store skips it for other tables


@hookimpl
def crm_record_changed(workspace, changes):
    """A deal moved to another stage (won and lost too) leaves a note on its contact's timeline."""
    from .deals import move_notes

    notes = move_notes(workspace, changes)
    if notes:
        # derived from the validated, audited move, in its transaction: no re-validation, no second audit row
        workspace.store.insert_many("activities", notes, audit=False, events=False, validate=False)


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


@hookimpl
def crm_personal_data(workspace):
    """A contact's deals: exported whole; on erasure amounts and stages stay (forecasts), their name leaves titles."""
    return [PersonalData("deals", "contact_id")]


@hookimpl
def crm_api_resources(workspace):
    """Deals, served by the JSON API at ``/api/deals``."""
    return [ApiResource("deals", "deals", "Deals", "Opportunities on the pipeline: stage, amount, close date, status.")]
