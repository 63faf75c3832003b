"""``crm contacts``: search, duplicates, merge and undo from the command line."""

from __future__ import annotations

import click

from crm_workspace.cli import emit, output_options


def register(cli: click.Group) -> None:
    from crm_workspace.cli import open_workspace

    @cli.group()
    def contacts():
        """Search contacts, list possible duplicates, merge two contacts, undo a merge."""

    @contacts.command("search")
    @click.argument("text")
    @click.option("--limit", default=20, show_default=True)
    @output_options
    @click.pass_context
    def search(ctx, text, limit, fmt):
        """Search contacts and organizations (as ws.search(TEXT))."""
        emit(open_workspace(ctx).search(text, limit=limit), None, fmt, empty="no matches")

    @contacts.command("duplicates")
    @click.option("--limit", default=50, show_default=True)
    @output_options
    @click.pass_context
    def duplicates(ctx, limit, fmt):
        """Possible duplicate contacts with their score."""
        from .merge import find_duplicates

        emit(find_duplicates(open_workspace(ctx), limit), None, fmt, empty="no possible duplicates")

    @contacts.command("merge")
    @click.argument("winner", type=int)
    @click.argument("loser", type=int)
    @click.option("--take", multiple=True, help="FIELD whose value to take from LOSER (repeatable).")
    @click.pass_context
    def merge_cmd(ctx, winner, loser, take):
        """Merge contact LOSER into WINNER (activities, deals, relationships, tags move)."""
        from .merge import merge_contacts

        log_id = merge_contacts(open_workspace(ctx), winner, loser, dict.fromkeys(take, "loser"))
        click.echo(f"merged #{loser} into #{winner}; undo with: crm contacts undo-merge {log_id}")

    @contacts.command("undo-merge")
    @click.argument("merge_id", type=int)
    @click.pass_context
    def undo(ctx, merge_id):
        """Undo a merge from the merge log."""
        from .merge import undo_merge

        undo_merge(open_workspace(ctx), merge_id)
        click.echo(f"merge #{merge_id} undone")
