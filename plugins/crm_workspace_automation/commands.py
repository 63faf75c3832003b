"""``crm webhooks`` and ``crm rules``: subscriptions, the delivery log, replay; rules and their runs."""

from __future__ import annotations

import json

import click

from crm_workspace.cli import emit, output_options


def register(cli: click.Group) -> None:
    _webhooks(cli)
    _rules(cli)


def _webhooks(cli: click.Group) -> None:
    from crm_workspace.cli import open_workspace

    @cli.group()
    def webhooks():
        """Signed webhooks: subscribe URLs to events, read the delivery log, replay (admins)."""

    @webhooks.command("add")
    @click.argument("url")
    @click.option("--events", required=True, help="Comma-separated: deal.won,contacts.created,deals.*,* ...")
    @click.option("--secret", default="auto", show_default=True, help="The signing secret, or 'auto' to make one.")
    @click.option("--description", default="", help="What the receiver is.")
    @click.pass_context
    def add(ctx, url, events, secret, description):
        """Subscribe URL to events; prints the signing secret once (keep it: it is not shown again)."""
        from .webhooks import subscribe

        row = subscribe(open_workspace(ctx), url, events, secret=secret, description=description)
        click.echo(f"subscription #{row['id']}: {row['url']} ← {', '.join(json.loads(row['events']))}")
        click.echo("signing secret (shown once; verify X-CRM-Signature with it, see docs/webhooks.md):")
        click.echo(row["secret"])

    @webhooks.command("list")
    @output_options
    @click.pass_context
    def list_(ctx, fmt):
        """Every subscription: state (DISABLED with the reason after repeated failure) and delivery counts."""
        from .webhooks import subscriptions

        columns = ["id", "url", "events", "state", "failures", "delivered", "waiting", "failed", "notice"]
        emit(subscriptions(open_workspace(ctx)), columns, fmt, empty="(no webhook subscriptions)")

    @webhooks.command("remove")
    @click.argument("sub_id", metavar="ID", type=int)
    @click.pass_context
    def remove(ctx, sub_id):
        """Delete a subscription (its undelivered events are marked failed; the log stays)."""
        from .webhooks import remove as remove_subscription

        sub = remove_subscription(open_workspace(ctx), sub_id)
        click.echo(f"removed subscription #{sub['id']} ({sub['url']})")

    @webhooks.command("enable")
    @click.argument("sub_id", metavar="ID", type=int)
    @click.pass_context
    def enable(ctx, sub_id):
        """Turn a subscription on again (its failure count starts over; events queued before it stopped resume)."""
        from .webhooks import set_enabled

        set_enabled(open_workspace(ctx), sub_id, True)
        click.echo(f"subscription #{sub_id} enabled")

    @webhooks.command("disable")
    @click.argument("sub_id", metavar="ID", type=int)
    @click.pass_context
    def disable(ctx, sub_id):
        """Pause a subscription: nothing is sent, and new events are not queued for it."""
        from .webhooks import set_enabled

        set_enabled(open_workspace(ctx), sub_id, False)
        click.echo(f"subscription #{sub_id} disabled")

    @webhooks.command("test")
    @click.argument("sub_id", metavar="ID", type=int)
    @click.pass_context
    def test(ctx, sub_id):
        """Send a signed 'ping' event to the subscription now and print the answer."""
        from .webhooks import ping

        row = ping(open_workspace(ctx), sub_id)
        _report(row)

    @webhooks.command("allow-private")
    @click.option("--on/--off", "allow", default=None, help="Allow, or refuse again, private receivers.")
    @click.pass_context
    def allow_private(ctx, allow):
        """Whether receivers on loopback, link-local and private addresses are allowed (admins; default off)."""
        ws = open_workspace(ctx)
        if allow is not None:
            ws.set_setting("webhooks_allow_private", allow)
        state = "allowed" if ws.setting("webhooks_allow_private", False) else "refused"
        click.echo(f"private and loopback receivers: {state}")

    @webhooks.command("deliveries")
    @click.option("--subscription", type=int, help="Only this subscription's deliveries.")
    @click.option("--status", type=click.Choice(["pending", "sending", "delivered", "failed"]))
    @click.option("--limit", type=int, default=50, show_default=True)
    @output_options
    @click.pass_context
    def deliveries(ctx, subscription, status, limit, fmt):
        """The delivery log, newest first: event, status, attempts, last answer."""
        from .access import system
        from .events import fan_out, waiting_events
        from .webhooks import DELIVERY_COLUMNS
        from .webhooks import deliveries as log

        ws = open_workspace(ctx)
        if waiting_events(ws.store) and not ws.read_only:
            fan_out(system(ws))  # events not yet expanded by a worker: list them too
        rows = log(ws, subscription=subscription, status=status, limit=limit)
        emit(rows, list(DELIVERY_COLUMNS), fmt, empty="(no deliveries)")

    @webhooks.command("replay")
    @click.argument("delivery_id", metavar="ID", type=int)
    @click.pass_context
    def replay(ctx, delivery_id):
        """Send a logged delivery again now (same event id and body; a new log row)."""
        from .webhooks import replay as replay_delivery

        _report(replay_delivery(open_workspace(ctx), delivery_id))

    @webhooks.command("deliver")
    @click.option("--loop", is_flag=True, help="Keep delivering (a worker) until stopped.")
    @click.option("--interval", type=float, default=1.0, show_default=True, help="Seconds between rounds.")
    @click.pass_context
    def deliver(ctx, loop, interval):
        """Send the due deliveries now (once, or as a worker with --loop)."""
        from .access import require_admin
        from .delivery import deliver_due, due_count

        ws = open_workspace(ctx)
        require_admin(ws, "run the webhook worker")
        if not loop:
            click.echo(str(deliver_due(ws)))
            return
        import time

        click.echo("delivering webhooks; Ctrl+C stops", err=True)
        try:
            while True:
                if due_count(ws):
                    click.echo(str(deliver_due(ws)), err=True)
                time.sleep(interval)
        except KeyboardInterrupt:
            pass


def _report(row: dict) -> None:
    if row["status"] == "delivered":
        click.echo(f"delivery #{row['id']} ({row['event_id']}): delivered, HTTP {row['last_status_code']}")
        return
    when = f"; next attempt at {row['next_attempt_at']}" if row["status"] == "pending" else ""
    raise click.ClickException(f"delivery #{row['id']} ({row['event_id']}): {row['status']}: {row['last_error']}{when}")


def _rules(cli: click.Group) -> None:
    from crm_workspace.cli import open_workspace

    @cli.group()
    def rules():
        """Workflow rules: when records match conditions, do actions (tasks, fields, tags, e-mail, webhooks)."""

    @rules.command("list")
    @output_options
    @click.pass_context
    def list_(ctx, fmt):
        """Every rule: table, trigger, enabled (with the reason when it was disabled)."""
        from .model import rule_rows

        columns = ["id", "name", "table_name", "trigger", "state", "conditions", "actions", "runs", "failed", "notice"]
        emit(rule_rows(open_workspace(ctx)), columns, fmt, empty="(no workflow rules)")

    @rules.command("add")
    @click.option("--json-file", "path", required=True, type=click.Path(dir_okay=False), help="The rule (or a list).")
    @click.pass_context
    def add(ctx, path):
        """Add rules from a JSON file: {name, table, trigger, conditions: [...], actions: [...]}."""
        from crm_workspace.errors import CrmError

        from .rules import save

        try:
            with open(path, encoding="utf-8") as handle:
                specs = json.load(handle)
        except OSError as error:
            raise CrmError(f"cannot read {path}: {error.strerror}") from error
        except ValueError as error:
            raise CrmError(f"{path} is not JSON: {error}") from error
        ws = open_workspace(ctx)
        specs = specs if isinstance(specs, list) else [specs]
        with ws.store.transaction():  # all or nothing
            saved = [save(ws, spec if isinstance(spec, dict) else {}) for spec in specs]
        for rule in saved:
            click.echo(f"rule #{rule['id']}: {rule['name']} ({rule['table_name']}, on {rule['trigger']})")

    @rules.command("enable")
    @click.argument("rule_id", metavar="ID", type=int)
    @click.pass_context
    def enable(ctx, rule_id):
        """Turn a rule on (refused while it names a field that no longer exists)."""
        from .rules import set_enabled

        set_enabled(open_workspace(ctx), rule_id, True)
        click.echo(f"rule #{rule_id} enabled")

    @rules.command("disable")
    @click.argument("rule_id", metavar="ID", type=int)
    @click.pass_context
    def disable(ctx, rule_id):
        """Turn a rule off."""
        from .rules import set_enabled

        set_enabled(open_workspace(ctx), rule_id, False)
        click.echo(f"rule #{rule_id} disabled")

    @rules.command("run")
    @click.option("--now", "now", help="Evaluate as of this time (ISO, 'today', '3d'...): a test clock.")
    @click.pass_context
    def run(ctx, now):
        """Run the time rules now ("no activity for N days"), as the scheduler does."""
        from crm_workspace.cli import parse_when
        from crm_workspace.errors import PermissionDenied

        from .rules import run_time_rules

        ws = open_workspace(ctx)
        if ws.read_only:
            raise PermissionDenied(f"{ws.user} may not run rules (read-only)")
        counts = run_time_rules(ws, now=parse_when(now) if now else None)
        click.echo(f"{counts['ok']} runs ok, {counts['failed']} failed, {counts['disabled']} rules disabled")

    @rules.command("runs")
    @click.option("--rule", "rule_id", type=int, help="Only this rule's runs.")
    @click.option("--limit", type=int, default=50, show_default=True)
    @output_options
    @click.pass_context
    def runs(ctx, rule_id, limit, fmt):
        """The run log, newest first: the record, and what each action did or why it failed."""
        from .rules import RUN_COLUMNS
        from .rules import runs as log

        emit(log(open_workspace(ctx), rule_id, limit), list(RUN_COLUMNS), fmt, empty="(no rule runs)")
