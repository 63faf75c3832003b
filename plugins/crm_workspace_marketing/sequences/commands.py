"""``crm sequences``: list, show, save, enrol, pause/resume and run nurture sequences."""

from __future__ import annotations

import json
from pathlib import Path

import click

from crm_workspace.cli import emit, output_options


def register(cli: click.Group) -> None:
    from crm_workspace.cli import open_workspace

    @cli.group()
    def sequences():
        """Nurture sequences: triggers, steps, who is where, the run ledger."""

    @sequences.command("list")
    @output_options
    @click.pass_context
    def list_(ctx, fmt):
        """Every sequence with its trigger and how many people are active, done, exited, failed."""
        from .model import LIST_COLUMNS, list_sequences

        emit(list_sequences(open_workspace(ctx)), LIST_COLUMNS, fmt, empty="(no sequences)")

    @sequences.command("show")
    @click.argument("name")
    @output_options
    @click.pass_context
    def show(ctx, name, fmt):
        """A sequence's steps with who is waiting at each and when the next is due."""
        from .model import describe_trigger, get_sequence, step_counts

        ws = open_workspace(ctx)
        row = get_sequence(ws, name)
        if fmt == "table":
            click.echo(f"{row['name']} ({row['status']}): when {describe_trigger(row['trigger_kind'], row['trigger'])}")
            click.echo(f"exits: {', '.join(row['exits']) or '(none)'}")
        columns = ["position", "step", "waiting_here", "due_now", "next_due", "done", "failures"]
        emit(step_counts(ws, row["id"]), columns, fmt, empty="(no steps)")

    @sequences.command("save")
    @click.argument("name")
    @click.option(
        "--file",
        "path",
        type=click.Path(exists=True, dir_okay=False),
        required=True,
        help='JSON: {"trigger_kind", "trigger_args", "exit_on", "steps": [{"kind", "args"}]}.',
    )
    @click.pass_context
    def save(ctx, name, path):
        """Create a sequence, or replace an existing one's trigger, exits and steps, from a JSON file."""
        from crm_workspace import NotFound

        from .model import get_sequence, save_sequence

        ws = open_workspace(ctx)
        spec = json.loads(Path(path).read_text(encoding="utf-8"))
        steps = spec.pop("steps", None)
        fields = {
            k: v
            for k, v in spec.items()
            if k in ("trigger_kind", "trigger_args", "exit_on", "description", "sender", "status")
        }
        try:
            existing = get_sequence(ws, name)["id"]
        except NotFound:
            existing = None
        row = save_sequence(ws, {"name": name, **fields}, steps, existing)
        click.echo(f"saved sequence '{row['name']}' with {len(row['steps'])} step(s)")

    @sequences.command("run")
    @click.option("--now", help="The time to treat as now (ISO, for tests and catching up).")
    @click.option("--limit", type=int, default=1000, help="At most this many people advanced in this run.")
    @click.option("--no-send", is_flag=True, help="Queue e-mail without delivering it now.")
    @output_options
    @click.pass_context
    def run_(ctx, now, limit, no_send, fmt):
        """Do the due steps and deliver their e-mail (idempotent: safe to run from cron)."""
        from .runner import run

        report = run(open_workspace(ctx), now, limit=limit, send=not no_send)
        emit([report], None, fmt)

    @sequences.command("enroll")
    @click.argument("name")
    @click.option("--contact", "contact_id", type=int, required=True, help="The contact's id.")
    @click.pass_context
    def enroll(ctx, name, contact_id):
        """Put a contact into a sequence by hand (starts at the first step at the next run)."""
        from .model import enrol_by_name

        found = enrol_by_name(open_workspace(ctx), name, contact_id)
        click.echo(f"enrolled contact #{contact_id} (enrollment #{found['id']})")

    @sequences.command("pause")
    @click.argument("name")
    @click.pass_context
    def pause(ctx, name):
        """Stop running a sequence's steps (people stay where they are) and enrolling people."""
        from .model import set_status

        click.echo(f"sequence '{set_status(open_workspace(ctx), name, 'paused')['name']}' paused")

    @sequences.command("resume")
    @click.argument("name")
    @click.pass_context
    def resume(ctx, name):
        """Run a paused sequence again (steps that came due meanwhile run at the next run)."""
        from .model import set_status

        click.echo(f"sequence '{set_status(open_workspace(ctx), name, 'active')['name']}' resumed")

    @sequences.command("runs")
    @click.option("--failed", is_flag=True, help="Only failures, with their reasons.")
    @click.option("--limit", type=int, default=50)
    @output_options
    @click.pass_context
    def runs_(ctx, failed, limit, fmt):
        """The ledger, newest first: every step, e-mail, retry and exit."""
        from .data import runs

        emit(runs(open_workspace(ctx), failures_only=failed, limit=limit), None, fmt, empty="(nothing yet)")
