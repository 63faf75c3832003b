"""``crm pipeline``: the board's totals, the forecast, moving a deal, from the command line."""

from __future__ import annotations

import click

from crm_workspace.cli import emit, output_options


def register(cli: click.Group) -> None:
    from crm_workspace.cli import open_workspace

    @cli.group()
    def pipeline():
        """The pipeline board's numbers, the forecast, and moving a deal."""

    @pipeline.command("board")
    @click.option("--pipeline", "name", default="default", show_default=True)
    @click.option("--owner", default=None, help="Only this owner's deals.")
    @output_options
    @click.pass_context
    def board(ctx, name, owner, fmt):
        """Deals, total and weighted amount per stage (as ws.df('pipeline.board'))."""
        from .model import PipelineModel  # the model's rows, not ws.df: no pandas, no other plugin's views

        rows = PipelineModel(workspace=open_workspace(ctx), pipeline=name, owner=owner).totals()
        emit(rows, ["stage", "status", "deals", "amount", "weighted"], fmt, empty=f"no stages in pipeline '{name}'")

    @pipeline.command("forecast")
    @click.option("--by", type=click.Choice(["month", "owner"]), default="month", show_default=True)
    @click.option("--pipeline", "name", default="default", show_default=True)
    @output_options
    @click.pass_context
    def forecast(ctx, by, name, fmt):
        """Open pipeline by expected-close month or by owner, with weighted amounts."""
        from .model import PipelineModel

        model = PipelineModel(workspace=open_workspace(ctx), pipeline=name)
        emit(getattr(model, f"forecast_by_{by}")(), None, fmt, empty="no open deals")

    @pipeline.command("move")
    @click.argument("deal_id", type=int)
    @click.argument("stage")
    @click.option("--reason", default=None, help="Why it was lost (required for a lost stage).")
    @click.pass_context
    def move(ctx, deal_id, stage, reason):
        """Move deal DEAL_ID to STAGE (probability, status and times follow the stage)."""
        from .model import PipelineModel

        ws = open_workspace(ctx)
        deal = ws.store.get("deals", deal_id)
        moved = PipelineModel(workspace=ws, pipeline=deal["pipeline"]).move(
            deal_id, stage, deal["version"], lost_reason=reason
        )
        click.echo(f"deal #{deal_id} is now in {moved['stage']} ({moved['status']}, {moved['probability']:g}%)")
