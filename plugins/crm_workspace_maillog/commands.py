"""``crm mail log`` and ``crm mail review``: added to the core's ``crm mail`` group."""

from __future__ import annotations

import click

from crm_workspace.cli import emit, open_workspace, output_options


def register(cli: click.Group) -> None:
    group = cli.commands.get("mail") if isinstance(cli, click.Group) else None
    if not isinstance(group, click.Group):  # a core without `crm mail`: a group of our own
        group = click.Group("maillog", help="E-mail logging: file the logging mailbox on contacts.")
        cli.add_command(group)

    @group.command("log")
    @click.option("--limit", type=click.IntRange(min=1), default=None, help="Read at most N messages.")
    @click.option("--mailbox", help="A Maildir path or imap://user@host/folder (default: the maillog_mailbox setting).")
    @click.pass_context
    def log(ctx, limit, mailbox):
        """File the logging mailbox's unread messages as email activities on their contacts."""
        from .filing import log_mailbox

        ws = open_workspace(ctx)
        result = log_mailbox(ws, spec=mailbox, limit=limit)
        for error in result.errors:
            click.echo(f"failed: {error}", err=True)
        if result.unknown:
            click.echo(f"to review ({len(result.unknown)}): " + ", ".join(result.unknown[:20]))
        click.echo(result.line())

    @group.command("review")
    @click.option("--status", type=click.Choice(("open", "ignored", "resolved")), default="open", show_default=True)
    @click.option(
        "--create", "create", metavar="ADDRESS", help="Make ADDRESS a new contact and log its messages on it."
    )
    @click.option("--name", help="With --create: the contact's name (default: the name the mail gave).")
    @click.option(
        "--attach", nargs=2, metavar="ADDRESS CONTACT_ID", help="Log ADDRESS's messages on an existing contact."
    )
    @click.option("--ignore", "ignore", metavar="ADDRESS", help="Never file mail on ADDRESS.")
    @output_options
    @click.pass_context
    def review(ctx, status, create, name, attach, ignore, fmt):
        """List the addresses waiting for review, or resolve one (--create, --attach, --ignore)."""
        from . import review as rv

        ws = open_workspace(ctx)
        if create:
            first, _, last = (name or "").strip().rpartition(" ")
            contact, made = rv.create_contact(ws, create, first_name=first if last else "", last_name=last or first)
            click.echo(f"created contact #{contact['id']} for {create}; {made} messages logged on it")
            return
        if attach:
            address, contact_id = attach
            if not contact_id.isdigit():
                raise click.BadParameter(f"{contact_id!r} is not a contact id", param_hint="--attach")
            made = rv.attach(ws, address, int(contact_id))
            click.echo(f"attached {address} to contact #{contact_id}; {made} messages logged on it")
            return
        if ignore:
            rv.ignore(ws, ignore)
            click.echo(f"ignored {ignore}")
            return
        emit(
            rv.review_rows(ws, status),
            ["address", "name", "first_seen", "messages", "first_subject", "status", "contact_id"],
            fmt,
            empty="(nothing to review)",
        )
