"""``crm tokens`` (add, list, revoke personal API tokens) and ``crm api`` (serve the API alone)."""

from __future__ import annotations

import click

from crm_workspace.cli import emit, open_workspace, output_options


def register(cli: click.Group) -> None:
    @cli.group()
    def tokens():
        """Personal API tokens: add (shown once), list, revoke."""

    @tokens.command("add")
    @click.argument("name")
    @click.option("--role", required=True, type=click.Choice(["admin", "member", "viewer"]), help="At most this role.")
    @click.option("--user", "owner", help="The user the token acts as (default: the acting user).")
    @click.option("--expires", help="30d, 12h, 8w, 1y or a date (default: never).")
    @click.pass_context
    def add(ctx, name, role, owner, expires):
        """Make a token; its secret is printed once, as the last line."""
        from .tokens import create_token

        ws = open_workspace(ctx)
        row, token = create_token(ws, name, role, owner, expires)
        expiry = f"expires {row['expires_at']}" if row["expires_at"] else "never expires"
        click.echo(f"token #{row['id']} '{row['name']}' acts as {row['user']} with at most role {role}; {expiry}")
        click.echo("store it now: it is shown only once (send it as Authorization: Bearer <token>)", err=True)
        click.echo(token)

    @tokens.command("list")
    @click.option("--live", is_flag=True, help="Only tokens neither revoked nor expired.")
    @output_options
    @click.pass_context
    def list_(ctx, live, fmt):
        """Every token: name, user, role, expiry, revocation, last use (never the secret)."""
        from crm_workspace.data.store import utcnow

        from .tokens import COLUMNS, list_tokens

        rows = list_tokens(open_workspace(ctx))
        if live:
            now = utcnow()
            rows = [r for r in rows if not r["revoked_at"] and not (r["expires_at"] and r["expires_at"] <= now)]
        emit(rows, list(COLUMNS), fmt, empty="(no tokens: crm tokens add NAME --role ROLE)")

    @tokens.command("revoke")
    @click.argument("token")
    @click.pass_context
    def revoke(ctx, token):
        """Revoke a token by NAME or ID: refused from the next request on."""
        from .tokens import revoke_token

        row = revoke_token(open_workspace(ctx), token)
        click.echo(f"revoked token #{row['id']} '{row['name']}' of {row['user']}")

    @cli.command("api")
    @click.option("--port", default=5007, show_default=True, type=click.IntRange(0, 65535))
    @click.option("--address", default="127.0.0.1", show_default=True, help="Interface to listen on.")
    @click.pass_context
    def api(ctx, port, address):
        """Serve the JSON API alone (the same as /api/ of crm serve)."""
        from .server import serve

        serve(open_workspace(ctx), port=port, address=address)
