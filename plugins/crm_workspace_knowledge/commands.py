"""``crm kb``: list, search and publish knowledge base articles."""

from __future__ import annotations

import click

from crm_workspace.cli import emit, output_options

COLUMNS = ["id", "title", "slug", "category", "status", "views", "helpful_yes", "helpful_no", "updated_at"]


def register(cli: click.Group) -> None:
    from crm_workspace.cli import open_workspace

    @cli.group()
    def kb():
        """Knowledge base articles: list, search, publish."""

    @kb.command("list")
    @click.option("--status", type=click.Choice(["draft", "published"]), help="Only articles in this state.")
    @output_options
    @click.pass_context
    def list_(ctx, status, fmt):
        """Print the articles, newest first."""
        from .model import list_articles

        emit(list_articles(open_workspace(ctx), status=status, limit=None), COLUMNS, fmt, empty="(no articles)")

    @kb.command("search")
    @click.argument("text")
    @click.option("--all", "everything", is_flag=True, help="Drafts too (default: published only).")
    @output_options
    @click.pass_context
    def search(ctx, text, everything, fmt):
        """Print the articles matching TEXT, best first (accents and case ignored)."""
        from .model import search as find

        rows = find(open_workspace(ctx), text, published_only=not everything)
        emit(rows, ["id", "title", "slug", "status", "excerpt"], fmt, empty="(no match)")

    @kb.command("publish")
    @click.argument("article", nargs=-1, required=True)
    @click.option("--draft", is_flag=True, help="Unpublish instead (back to draft).")
    @click.pass_context
    def publish(ctx, article, draft):
        """Publish articles given by id or slug (or unpublish them with --draft)."""
        from crm_workspace.errors import NotFound

        from .model import set_status

        ws = open_workspace(ctx)
        for ref in article:
            found = ws.query(
                "SELECT id, slug FROM kb_articles WHERE id = ? OR slug = ?", [ref if ref.isdigit() else -1, ref]
            )
            if not found:
                raise NotFound(f"No article {ref!r}.")
            row = set_status(ws, found[0]["id"], "draft" if draft else "published")
            click.echo(f"{row['slug']}: {row['status']}")
