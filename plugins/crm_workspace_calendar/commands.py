"""``crm calendar``: feed addresses and .ics import from the command line."""

from __future__ import annotations

from pathlib import Path

import click

from crm_workspace.cli import emit, open_workspace, output_options


def register(cli: click.Group) -> None:
    @cli.group()
    def calendar():
        """Calendar feeds of tasks and meetings; import .ics files and invitations."""

    @calendar.command("feed")
    @click.argument("username", metavar="USER", required=False)
    @click.option("--revoke", is_flag=True, help="Revoke the user's feed instead of making a new one.")
    @click.pass_context
    def feed(ctx, username, revoke):
        """Make USER's feed address (the last line; the old one stops working), or --revoke it.

        USER defaults to the acting user; only an admin may name another.
        """
        from .feeds import feed_url, make_feed, revoke_feeds

        ws = open_workspace(ctx)
        user = username or ws.user
        if revoke:
            count = revoke_feeds(ws, user)
            click.echo(f"revoked {count} calendar feed{'s' if count != 1 else ''} of {user}")
            return
        token = make_feed(ws, user)
        click.echo(f"calendar feed of {user} (subscribe to it in your calendar app; it is shown only once):")
        click.echo(feed_url(ws, token))

    @calendar.command("feeds")
    @click.option("--of", "only", metavar="USER", help="Only this user's feeds (admins).")
    @output_options
    @click.pass_context
    def feeds(ctx, only, fmt):
        """List calendar feeds (never their tokens): yours, or everyone's for an admin."""
        from .feeds import feeds as rows

        ws = open_workspace(ctx)
        emit(rows(ws, only), ["id", "user", "created_at", "created_by", "revoked_at"], fmt, empty="(no feeds)")

    @calendar.command("import")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.pass_context
    def import_(ctx, file: Path):
        """Log the meetings in FILE (.ics, or an .eml invitation) on the attendees' contacts."""
        from .icsread import MAX_BYTES, CalendarImportError
        from .imports import import_calendar

        ws = open_workspace(ctx)
        if file.stat().st_size > MAX_BYTES:
            raise CalendarImportError(
                f"{file.name} is over {MAX_BYTES // 2**20} MB: calendar files that big are refused"
            )
        result = import_calendar(ws, file.read_bytes(), file.name)
        for line in result.lines():
            click.echo(line)

    @calendar.command("invitations")
    @click.option(
        "--mailbox", help="A Maildir path or imap://user@host/folder (default: the calendar_mailbox setting)."
    )
    @click.option("--limit", type=click.IntRange(min=1), default=None, help="Read at most N messages.")
    @click.pass_context
    def invitations(ctx, mailbox, limit):
        """Import the meeting invitations waiting in the invitations mailbox (also every tick of `crm serve`)."""
        from .inbox import import_mailbox

        ws = open_workspace(ctx)
        result = import_mailbox(ws, mailbox, limit)
        for line in result.skipped:
            click.echo(f"skipped: {line}", err=True)
        if result.unknown:
            click.echo("unknown attendees (not created): " + ", ".join(sorted(result.unknown)[:30]))
        click.echo(result.line())
