"""``crm surveys``: answers, CSAT % and NPS, sending the NPS survey, clearing churn-risk flags."""

from __future__ import annotations

import click

from crm_workspace.cli import emit, output_options

COLUMNS = ["id", "kind", "contact_id", "contact", "ticket_id", "score", "comment", "responded_at", "assignee", "team"]


def register(cli: click.Group) -> None:
    from crm_workspace.cli import open_workspace

    @cli.group()
    def surveys():
        """CSAT and NPS answers, the periodic NPS survey, churn-risk flags."""

    @surveys.command("list")
    @click.option("--kind", type=click.Choice(["csat", "nps"]), help="Only this survey.")
    @click.option("--days", type=int, help="Only answers of the last N days.")
    @output_options
    @click.pass_context
    def list_(ctx, kind, days, fmt):
        """Print the answers, newest first."""
        from .metrics import responses

        emit(responses(open_workspace(ctx), kind, days), COLUMNS, fmt, empty="(no answers)")

    @surveys.command("summary")
    @click.option("--by", type=click.Choice(["agent", "team"]), help="One row per agent or team (CSAT).")
    @click.option("--days", type=int, default=90, show_default=True, help="Answers of the last N days (0: all).")
    @output_options
    @click.pass_context
    def summary(ctx, by, days, fmt):
        """Print CSAT % and NPS with their answer counts."""
        from .metrics import summary as figures

        emit(figures(open_workspace(ctx), by, days or None), None, fmt, empty="(no answers)")

    @surveys.command("send-nps")
    @click.option("--dry-run", is_flag=True, help="Only print who is due; queue nothing.")
    @click.option("--now", "now", help="The time to act at (ISO; default $CRM_NOW or the clock).")
    @click.pass_context
    def send_nps_(ctx, dry_run, now):
        """Queue this period's NPS survey for every due customer (the tick does it too; idempotent)."""
        from crm_workspace.services.scheduler import tick_time

        from .nps import send_nps

        ws = open_workspace(ctx)
        due = send_nps(ws, tick_time(now), dry_run=dry_run)
        for contact in due:
            click.echo(f"{contact['id']}\t{contact['email']}")
        click.echo(
            f"{len(due)} customer(s) {'due' if dry_run else 'queued'}; `crm mail send --plugin surveys` sends.",
            err=True,
        )

    @surveys.command("clear-flag")
    @click.argument("contact", type=int)
    @click.pass_context
    def clear_flag_(ctx, contact):
        """Clear a contact's churn-risk flag (the answers stay)."""
        from .rules import clear_flag

        click.echo(f"{clear_flag(open_workspace(ctx), contact)} flag(s) cleared")
