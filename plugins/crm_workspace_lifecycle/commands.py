"""``crm lifecycle``: the lifecycle numbers and stage settings from the command line."""

from __future__ import annotations

import click

VIEWS = ("funnel", "time_in_stage", "stuck", "cohorts", "flow", "journey", "adoption", "data_quality", "churn_risk")


def register(cli: click.Group) -> None:
    from crm_workspace.cli import open_workspace

    @cli.group()
    def lifecycle():
        """Lifecycle funnel, time in stage, cohorts, flow, journeys and stage settings."""

    @lifecycle.command("show")
    @click.argument("view", type=click.Choice(VIEWS))
    @click.option("--from", "start", help="First day of the period (YYYY-MM-DD).")
    @click.option("--to", "end", help="Last day of the period (YYYY-MM-DD, inclusive).")
    @click.option("--owner", help="Only contacts of this owner.")
    @click.option("--contact", type=int, help="The contact whose journey to show.")
    @click.pass_context
    def show(ctx, view, start, end, owner, contact):
        """Print one view (the same numbers as the dashboard and ws.df('lifecycle.VIEW'))."""
        ws = open_workspace(ctx)
        if view == "journey":
            frame = ws.df("lifecycle.journey", contact_id=contact)
        elif view in ("stuck", "data_quality"):
            frame = ws.df(f"lifecycle.{view}", owner=owner)
        elif view == "churn_risk":
            frame = ws.df("lifecycle.churn_risk")
        else:
            frame = ws.df(f"lifecycle.{view}", start=start, end=end, owner=owner)
        click.echo(frame.to_string(index=False) if len(frame) else "(nothing)")

    @lifecycle.command("stages")
    @click.argument("stages", nargs=-1)
    @click.pass_context
    def stages(ctx, stages):
        """Print the ordered stages, or set them (a stage in use cannot be removed)."""
        from .rules import set_stages

        ws = open_workspace(ctx)
        if stages:
            set_stages(ws, list(stages))
        click.echo("\n".join(ws.lifecycle_stages()))
