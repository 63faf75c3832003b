"""``crm marketing``: segments, sending and the scheduled work from the command line."""

from __future__ import annotations

import contextlib
import json

import click

from crm_workspace import CrmError
from crm_workspace.cli import emit, output_options


def register(cli: click.Group) -> None:
    from crm_workspace.cli import open_workspace

    @cli.group()
    def marketing():
        """Segments, campaigns and their sending, sign-up forms."""

    register_campaigns(marketing)

    @marketing.command("segments")
    @output_options
    @click.pass_context
    def segments_(ctx, fmt):
        """List the segments with their member counts (broken ones say why); JSON adds each filter, groups and all."""
        from .filters import parse
        from .segments import list_segments
        from .views_data import SEGMENT_COLUMNS

        rows = list_segments(open_workspace(ctx))
        columns = SEGMENT_COLUMNS
        if fmt == "json":
            for row in rows:
                with contextlib.suppress(CrmError):  # unreadable: kept as its text (the segment says it is broken)
                    row["filter"] = parse(row["filter"]) if row["kind"] == "dynamic" else None
            columns = [*SEGMENT_COLUMNS, "filter"]
        emit(rows, columns, fmt, empty="(no segments)")

    @marketing.command("segment")
    @click.argument("name")
    @click.option("--sql", "show_sql", is_flag=True, help="Print the SQL that decides membership instead of members.")
    @click.option("--limit", type=int, default=None, help="Print at most this many members.")
    @output_options
    @click.pass_context
    def segment(ctx, name, show_sql, limit, fmt):
        """Print a segment's members (the same as ws.df('marketing.segment', name=NAME)), or its SQL."""
        from .segments import definition_sql, inline_sql

        ws = open_workspace(ctx)
        if show_sql:
            sql, params = definition_sql(ws, name)
            if fmt == "json":
                click.echo(json.dumps({"sql": sql, "params": params, "inline": inline_sql(sql, params)}))
            else:
                click.echo(inline_sql(sql, params))
            return
        frame = ws.df("marketing.segment", name=name, limit=limit)
        emit(frame, None, fmt, empty="(no members)")

    @marketing.command("segment-save")
    @click.argument("name")
    @click.option("--filter", "filter_", help='The filter as JSON: {"match": "all", "conditions": [...]}.')
    @click.option("--static", is_flag=True, help="A static list (members added by hand or from emails).")
    @click.pass_context
    def segment_save(ctx, name, filter_, static):
        """Create a segment, or change the filter of an existing one."""
        from crm_workspace import NotFound

        from .segments import get_segment, save_segment

        ws = open_workspace(ctx)
        try:
            row = get_segment(ws, name)
        except NotFound:
            row = None
        kind = "static" if static else "dynamic"
        saved = save_segment(
            ws, name, filter_, kind=kind, segment_id=row["id"] if row else None, version=row["version"] if row else None
        )
        members = ws.store.scalar("SELECT count(*) FROM segment_members WHERE segment_id = ?", [saved["id"]])
        click.echo(f"{'updated' if row else 'created'} {kind} segment '{saved['name']}': {members} members")

    @marketing.command("list-add")
    @click.argument("name")
    @click.argument("emails", type=click.File("r"), default="-")
    @click.option(
        "--from-import",
        "batch",
        metavar="BATCH",
        help="Add the contacts an import batch created or updated (see `crm imports list`) instead of EMAILS.",
    )
    @click.pass_context
    def list_add(ctx, name, emails, batch):
        """Add the contacts with the addresses in EMAILS (a file, or - for stdin) to a static list."""
        from .imports import add_import
        from .segments import add_emails

        if batch:
            found = add_import(open_workspace(ctx), name, batch)
            click.echo(
                f"added {found['added']}, already on the list {found['already']} (the import's {found['contacts']} contacts)"
            )
            return
        result = add_emails(open_workspace(ctx), name, emails.read())
        click.echo(
            f"added {result['added']}, already on the list {result['already']},"
            f" unknown {len(result['unknown'])}, invalid {len(result['invalid'])}"
        )
        for email in result["unknown"][:20]:
            click.echo(f"  no contact: {email}", err=True)

    @marketing.command("rebuild")
    @click.argument("name", required=False)
    @output_options
    @click.pass_context
    def rebuild_(ctx, name, fmt):
        """Recompute segment members from scratch (repair); reports broken segments."""
        from .segments import rebuild

        emit(rebuild(open_workspace(ctx), name), ["segment", "members", "status", "problem"], fmt)


def register_campaigns(marketing: click.Group) -> None:
    from crm_workspace.cli import open_workspace

    @marketing.command("campaigns")
    @output_options
    @click.pass_context
    def campaigns_(ctx, fmt):
        """List the campaigns: status, segment, sent, opens, clicks (the page's numbers)."""
        from .analytics import campaign_stats

        emit(campaign_stats(open_workspace(ctx)), None, fmt, empty="(no campaigns)")

    @marketing.command("send")
    @click.argument("campaign")
    @click.option("--per-minute", type=int, default=None, help="At most this many messages a minute.")
    @click.option("--limit", type=int, default=None, help="Deliver at most this many messages now.")
    @click.pass_context
    def send_(ctx, campaign, per_minute, limit):
        """Send CAMPAIGN to its segment (consented addresses only); run again to continue where it stopped."""
        from .sending import send

        result = send(open_workspace(ctx), campaign, per_minute=per_minute, limit=limit)
        ledger = ", ".join(f"{k} {v}" for k, v in result["ledger"].items() if v)
        click.echo(
            f"{result['campaign']}: queued {result['queued']}, sent {result['sent']}, failed {result['failed']},"
            f" to retry {result['retrying']}; {result['status']} ({ledger or 'nothing in the ledger'})"
        )
        if result["stopped"]:
            raise click.ClickException(f"stopped: {result['stopped']} (the rest stays queued: run send again)")

    @marketing.command("run")
    @click.option("--now", help="The time to treat as now (ISO, for tests).")
    @click.option("--limit", type=int, default=None, help="Deliver at most this many messages in this run.")
    @output_options
    @click.pass_context
    def run_(ctx, now, limit, fmt):
        """Due A/B decisions, queued sends, bounces, time-relative segments, due sequence steps (cron-safe)."""
        from .scheduler import run_sequences, tick

        workspace = open_workspace(ctx)
        report = tick(workspace, now, limit=limit)
        sequences = run_sequences(workspace, now, limit=limit)
        if sequences is not None:
            report["sequences"] = sequences
        emit([{k: v for k, v in report.items()}], None, fmt)

    @marketing.command("bounces")
    @click.argument("mailbox", required=False)
    @click.pass_context
    def bounces_(ctx, mailbox):
        """Read delivery reports (and unsubscribe replies) from MAILBOX (a Maildir path or imap[s]://...)."""
        from .bounces import process_mailbox

        ws = open_workspace(ctx)
        if not (mailbox or ws.setting("marketing_bounce_mailbox", "")):
            raise click.ClickException("give a mailbox, or set marketing_bounce_mailbox")
        counts = process_mailbox(ws, mailbox)
        click.echo(", ".join(f"{k} {v}" for k, v in counts.items()))
