"""``crm service``: the queue, a ticket, a reply and the mailbox from the command line."""

from __future__ import annotations

import click

from crm_workspace.cli import emit, output_options


def register(cli: click.Group) -> None:
    from crm_workspace.cli import open_workspace

    @cli.group()
    def service():
        """Tickets: list the queue, show a ticket, reply, fetch the support mailbox."""

    @service.command("list")
    @click.option(
        "--view",
        default="open",
        show_default=True,
        help="open, mine, unassigned, breaching, breached, pending, flagged, solved, all",
    )
    @click.option("--team", help="Only this team.")
    @click.option("--assignee", help="Only this agent's tickets.")
    @click.option("--priority", help="low, normal, high or urgent.")
    @click.option("--search", "text", help="Words of the subject, or #id.")
    @click.option("--limit", default=50, show_default=True, type=int)
    @output_options
    @click.pass_context
    def list_(ctx, view, team, assignee, priority, text, limit, fmt):
        """The queue, most urgent first (the same rows as the Service page and ws.df('service.queue'))."""
        from . import clock
        from .queue import Filters, marker, page, soon_moments

        ws = open_workspace(ctx)
        rows, _ = page(ws, Filters(view=view, team=team, assignee=assignee, priority=priority, text=text), limit=limit)
        now = clock.now()
        soon = soon_moments(ws, now)
        out = [
            {
                "id": r["id"],
                "subject": r["subject"],
                "status": r["status"],
                "priority": r["priority"],
                "sla": marker(r, now, soon),
                "due": r["sla_due_at"],
                "assignee": r["assignee"],
                "team": r["team"],
                "requester": r["requester"],
            }
            for r in rows
        ]
        emit(
            out,
            ["id", "subject", "status", "priority", "sla", "due", "assignee", "team", "requester"],
            fmt,
            empty="(no tickets)",
        )

    @service.command("show")
    @click.argument("ticket_id", type=int)
    @output_options
    @click.pass_context
    def show(ctx, ticket_id, fmt):
        """A ticket, its SLA clocks and its thread."""
        from .rules import ticket_sla
        from .tickets import get_ticket, thread

        ws = open_workspace(ctx)
        ticket = get_ticket(ws, ticket_id)
        state = ticket_sla(ws, ticket)
        messages = thread(ws, ticket_id)
        if fmt == "json":
            clocks = {
                c.metric: {
                    "state": c.state,
                    "target": c.target,
                    "elapsed": c.elapsed,
                    "due_at": c.due_at.isoformat() if c.due_at else None,
                }
                for c in state.clocks
            }
            emit(
                [
                    {
                        **{k: v for k, v in ticket.items()},
                        "sla": clocks,
                        "messages": [
                            {
                                k: m[k]
                                for k in (
                                    "id",
                                    "kind",
                                    "author",
                                    "sender",
                                    "body_text",
                                    "send_status",
                                    "placed_by",
                                    "created_at",
                                )
                            }
                            for m in messages
                        ],
                    }
                ],
                None,
                fmt,
            )
            return
        click.echo(f"#{ticket['id']} {ticket['subject']}")
        click.echo(
            f"status {ticket['status']} · priority {ticket['priority']} · assignee {ticket['assignee'] or '-'} · team {ticket['team'] or '-'}"
        )
        for c in state.clocks:
            due = f", due {c.due_at:%Y-%m-%d %H:%M} UTC" if c.due_at else ""
            click.echo(
                f"{c.metric.replace('_', ' ')}: {c.state} ({c.elapsed:.0f} of {c.target or '-'} business minutes{due})"
            )
        for m in messages:
            who = m["author"] or m["sender"] or "?"
            extra = f" [{m['send_status']}]" if m["send_status"] else ""
            click.echo(f"\n--- {m['kind']} · {who} · {m['created_at']}{extra}\n{m['body_text'] or ''}")

    @service.command("reply")
    @click.argument("ticket_id", type=int)
    @click.argument("text")
    @click.option("--note", is_flag=True, help="An internal note instead of a public reply.")
    @click.option("--status", type=click.Choice(["open", "pending", "on_hold", "solved"]), help="Set the status too.")
    @click.option("--send/--no-send", default=True, show_default=True, help="Deliver the outbox's service mail now.")
    @click.pass_context
    def reply(ctx, ticket_id, text, note, status, send):
        """Reply to the requester by e-mail (or add a note)."""
        from .tickets import post_message

        ws = open_workspace(ctx)
        message = post_message(ws, ticket_id, kind="note" if note else "public", body_text=text, set_status=status)
        if not note and send:
            from .outbound import send_pending

            result = send_pending(ws)
            message = ws.store.get("ticket_messages", message["id"])
            click.echo(f"reply {message['id']} on #{ticket_id}: {message['send_status']} ({result})")
        else:
            click.echo(f"{'note' if note else 'reply'} {message['id']} on #{ticket_id}")

    @service.command("fetch")
    @click.option(
        "--mailbox",
        "spec",
        help="maildir:/path, a Maildir path or imaps://user@host/INBOX (default: setting service_mailbox).",
    )
    @click.option("--limit", type=int, help="At most this many messages.")
    @output_options
    @click.pass_context
    def fetch(ctx, spec, limit, fmt):
        """Turn new mail into tickets and replies (each message stored once, marked read only after)."""
        from .inbound import fetch as run

        ws = open_workspace(ctx)
        report = run(ws, spec, limit=limit)
        emit(report.rows, ["message_id", "ticket_id", "placed_by", "outcome"], fmt, empty="(no new mail)")
        if fmt == "table":
            click.echo(str(report), err=True)

    @service.command("merge")
    @click.argument("source", type=int)
    @click.argument("target", type=int)
    @click.pass_context
    def merge(ctx, source, target):
        """Move ticket SOURCE's thread into TARGET and close SOURCE (the merge queue's answer)."""
        from .tickets import merge_ticket

        merge_ticket(open_workspace(ctx), source, target)
        click.echo(f"merged #{source} into #{target}")

    @service.command("portal-link")
    @click.argument("email")
    @click.pass_context
    def portal_link_command(ctx, email):
        """Print the signed customer-portal link of the contact with EMAIL (valid 30 days)."""
        from crm_workspace.errors import NotFound

        from .portal import portal_link

        ws = open_workspace(ctx)
        rows = ws.query("SELECT id FROM contacts WHERE email = ? COLLATE NOCASE AND email != ''", [email.strip()])
        if not rows:
            raise NotFound(f"no contact with the e-mail address {email}")
        click.echo(portal_link(ws, rows[0]["id"]))
