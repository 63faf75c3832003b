"""``crm mail``: check the SMTP setup, look at the outbox, deliver what is queued.

Added to the root group by crm_workspace/cli/__init__.py; the work is in
crm_workspace/services/mailer.py and outbox.py (see docs/mail.md).
"""

from __future__ import annotations

import click

from crm_workspace.cli.context import open_workspace
from crm_workspace.cli.output import emit, output_options
from crm_workspace.cli.progress import progress
from crm_workspace.data.schema import OUTBOX_STATUSES

_LISTED = ("id", "status", "plugin", "recipient", "subject", "attempts", "queued_at", "sent_at", "last_error")


@click.group()
def mail() -> None:
    """Mail: test the SMTP setup, list the outbox, send what is queued, prune what is old."""


@mail.command("test")
@click.argument("address")
@click.option("--subject", default="Test message from crm-workspace", show_default=True)
@click.pass_context
def mail_test(ctx: click.Context, address: str, subject: str) -> None:
    """Send one message to ADDRESS now, through the workspace's SMTP settings."""
    from crm_workspace.data.fields import BadValue, normalize_email
    from crm_workspace.errors import CrmError, PermissionDenied
    from crm_workspace.services.mailer import Mailer, make_message

    try:
        address = normalize_email(address)
    except BadValue as error:
        raise CrmError(f"{address!r} is not an email address: {error}") from None
    workspace = open_workspace(ctx)
    if workspace.read_only:
        raise PermissionDenied(f"{workspace.user} may not send mail (read-only)")
    mailer = Mailer.from_workspace(workspace)
    message = make_message(
        to=address,
        subject=subject,
        text=f"This message was sent by {workspace.user} with `crm mail test` to check the mail setup.\n",
        sender=mailer.sender,
    )
    mailer.send(message)
    login = f" as {mailer.user}" if mailer.user else ""
    click.echo(f"sent {message['Message-ID']} to {address} through {mailer.address} ({mailer.security}){login}")


@mail.command("outbox")
@click.option("--status", type=click.Choice(OUTBOX_STATUSES), help="Only messages in this state.")
@click.option("--plugin", help="Only messages this plugin queued.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--counts", is_flag=True, help="List how many messages are in each state instead.")
@output_options
@click.pass_context
def mail_outbox(ctx: click.Context, status: str | None, plugin: str | None, limit: int, counts: bool, fmt: str) -> None:
    """The mail ledger, newest first, with how many messages are in each state."""
    from crm_workspace.services import outbox

    workspace = open_workspace(ctx)
    tally = outbox.counts(workspace, plugin=plugin)
    if counts:
        emit([{"status": key, "messages": value} for key, value in tally.items()], ["status", "messages"], fmt)
        return
    rows = outbox.outbox_rows(workspace, status=status, plugin=plugin, limit=limit)
    if fmt == "table":
        click.echo(", ".join(f"{value} {key}" for key, value in tally.items()))
    emit(rows, list(_LISTED) if fmt == "table" else None, fmt, empty="the outbox has no such messages")


@mail.command("send")
@click.option("--plugin", help="Only messages this plugin queued.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many messages.")
@click.option("--per-minute", type=click.IntRange(min=0), help="At most this many a minute (default: mail_per_minute).")
@click.pass_context
def mail_send(ctx: click.Context, plugin: str | None, limit: int | None, per_minute: int | None) -> None:
    """Deliver the queued messages that are due now, over one SMTP connection."""
    from crm_workspace.services import outbox

    workspace = open_workspace(ctx)
    with progress("sending mail", unit="messages") as bar:
        result = outbox.deliver(workspace, plugin=plugin, limit=limit, per_minute=per_minute, progress=bar.update)
    click.echo(str(result))
    if result.error:
        ctx.exit(1)


@mail.command("requeue")
@click.argument("ids", nargs=-1, type=int, required=True)
@click.pass_context
def mail_requeue(ctx: click.Context, ids: tuple[int, ...]) -> None:
    """Queue unknown or failed messages again (after checking they did not arrive)."""
    from crm_workspace.services import outbox

    count = outbox.requeue(open_workspace(ctx), ids)
    click.echo(f"queued {count} message{'s' if count != 1 else ''} again")


@mail.command("prune")
@click.option(
    "--days", type=click.IntRange(min=1), help="Keep this many days of finished mail (default: mail_retention_days)."
)
@click.pass_context
def mail_prune(ctx: click.Context, days: int | None) -> None:
    """Remove sent and failed mail older than the retention period (what the tick does hourly).

    Messages a record counts (a campaign's, a ticket reply's) keep their ledger row
    without their text; the others are removed.
    """
    from crm_workspace.services import outbox

    workspace = open_workspace(ctx)
    kept = outbox.retention_days(workspace) if days is None else days
    if not kept:
        click.echo("mail_retention_days is 0: all mail is kept (give --days N to prune anyway)")
        return
    done = outbox.prune(workspace, days=kept)
    removed, emptied = done["removed"], done["emptied"]
    click.echo(
        f"removed {removed} finished message{'s' if removed != 1 else ''} older than {kept} days;"
        f" dropped the text of {emptied} more that records still count"
    )


def register(cli: click.Group) -> None:
    """Add ``crm mail`` to the root group."""
    cli.add_command(mail)
