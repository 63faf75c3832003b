"""``crm lifecycle``: the lifecycle numbers and stage settings from the command line."""

from __future__ import annotations

import click

from crm_workspace.cli import emit, output_options

VIEWS = ("funnel", "time_in_stage", "stuck", "cohorts", "flow", "journey", "adoption", "data_quality", "churn_risk")


def register(cli: click.Group) -> None:
    from crm_workspace.cli import open_workspace

    @cli.group()
    def lifecycle():
        """Lifecycle funnel, time in stage, cohorts, flow, journeys and stage settings."""

    @lifecycle.command("show")
    @click.argument("view", type=click.Choice(VIEWS))
    @click.option("--from", "start", help="First day of the period (2026-01-31, yesterday, 3w, '2 months ago').")
    @click.option("--to", "end", help="Last day of the period (inclusive; same forms as --from).")
    @click.option("--owner", help="Only contacts of this owner.")
    @click.option("--contact", type=int, help="The contact whose journey to show.")
    @output_options
    @click.pass_context
    def show(ctx, view, start, end, owner, contact, fmt):
        """Print one view (the same numbers as the dashboard and ws.df('lifecycle.VIEW'))."""
        from crm_workspace.cli import parse_day

        from . import analytics, metrics

        ws = open_workspace(ctx)
        fn = getattr(analytics, view, None) or getattr(metrics, view)  # this plugin's view, not every plugin's
        if view == "journey":
            frame = fn(ws, contact_id=contact)
        elif view in ("stuck", "data_quality"):
            frame = fn(ws, owner=owner)
        elif view == "churn_risk":
            frame = fn(ws)
        else:
            start, end = (parse_day(d).isoformat() if d else None for d in (start, end))
            frame = fn(ws, start=start, end=end, owner=owner)
        emit(frame, None, fmt, empty="(nothing)")

    @lifecycle.command("stages")
    @click.argument("stages", nargs=-1)
    @output_options
    @click.pass_context
    def stages(ctx, stages, fmt):
        """Print the ordered stages, or set them (a stage in use cannot be removed)."""
        from .rules import set_stages

        ws = open_workspace(ctx)
        if stages:
            set_stages(ws, list(stages))
        emit([{"position": i, "stage": s} for i, s in enumerate(ws.lifecycle_stages())], ["position", "stage"], fmt)
