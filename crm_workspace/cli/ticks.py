"""``crm tick``: run every enabled plugin's periodic work once (for cron, scripts and tests).

Added to the root ``crm`` group by crm_workspace/cli/__init__.py; the work itself is
crm_workspace/services/scheduler.py, shared with ``crm serve``'s background thread.
"""

from __future__ import annotations

import click

from crm_workspace.cli.context import open_workspace
from crm_workspace.cli.output import emit, output_options


@click.command("tick")
@click.option(
    "--now",
    envvar="CRM_NOW",
    help="The ISO time the plugins treat as now (default: $CRM_NOW, else the clock): tests move time with it.",
)
@click.option("--plugin", "only", multiple=True, help="Run only this plugin's tick (repeatable).")
@output_options
@click.pass_context
def tick(ctx: click.Context, now: str | None, only: tuple[str, ...], fmt: str) -> None:
    """Run each enabled plugin's periodic work once (cron-safe; exits 1 if any failed).

    Each plugin acts as system:<plugin>. A run that finds another one under way
    (crm serve's, another cron job's) does nothing and says so.
    """
    from crm_workspace.services.scheduler import run_ticks

    workspace = open_workspace(ctx, create=False)
    run = run_ticks(workspace, now, plugins=list(only) if only else None)
    if run.skipped:
        click.echo("skipped: another tick run is under way on this workspace", err=True)
        return
    rows = [
        {
            "plugin": result.plugin,
            "outcome": "ok" if result.ok else "failed",
            "ok": result.ok,
            "seconds": round(result.seconds, 3),
            "error": result.error or None,
        }
        for result in run
    ]
    columns = ["plugin", "outcome", "seconds", "error"] if fmt == "table" else ["plugin", "ok", "seconds", "error"]
    emit(rows, columns, fmt, empty=f"no plugin has periodic work (now = {run.now})")
    failed = [result.plugin for result in run if not result.ok]
    if failed:
        click.echo(f"tick failed for: {', '.join(failed)}", err=True)
        ctx.exit(1)


def register(cli: click.Group) -> None:
    """Add ``crm tick`` to the root group."""
    cli.add_command(tick)
