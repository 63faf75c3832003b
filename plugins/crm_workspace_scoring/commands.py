"""``crm scoring``: train the model, list and toggle rules, rescore, show one contact's scores.

``crm marketing train-score`` is the same command as ``crm scoring train``: the marketing
plugin owns the ``marketing`` group; this plugin registers last (``trylast``) and adds
``train-score`` to that group when it exists and has none of its own (docs/scoring.md).
"""

from __future__ import annotations

import json

import click

from crm_workspace.cli import emit, output_options
from crm_workspace.errors import NotFound


def register(cli: click.Group) -> None:
    from crm_workspace.cli import open_workspace

    @cli.group()
    def scoring():
        """Lead scores: rule points by rule, and a model trained on which leads became customers."""

    @scoring.command("train")
    @click.option("--min-positives", type=int, default=50, show_default=True, help="Fewest customers to learn from.")
    @output_options
    @click.pass_context
    def train(ctx, min_positives, fmt):
        """Train a new model version on the workspace's history and rescore everyone with it."""
        from . import learn

        ws = open_workspace(ctx)
        row = learn.train(ws, min_positives=min_positives)
        card = {
            k: row[k] for k in ("version", "trained_at", "sample_size", "positives", "holdout_size", "auc", "seconds")
        }
        if fmt == "json":
            click.echo(json.dumps({**card, "top_features": learn.top_features({"params": row["params"]})}))
            return
        click.echo(
            f"model v{card['version']}: trained on {card['sample_size']:,} contacts ({card['positives']:,} became "
            f"customers), hold-out AUC {card['auc']:.2f}, in {card['seconds']:.1f} s"
        )
        emit(learn.top_features({"params": row["params"]}), ["feature", "weight", "direction"], "table")

    marketing = cli.commands.get("marketing")
    if isinstance(marketing, click.Group) and "train-score" not in marketing.commands:
        marketing.add_command(train, "train-score")

    @scoring.command("rules")
    @click.option("--add-suggested", is_flag=True, help="Add the suggested rules that are missing (by name).")
    @click.option("--enable", "enable", multiple=True, help="Enable the rule of this name (repeatable).")
    @click.option("--disable", "disable", multiple=True, help="Disable the rule of this name (repeatable).")
    @output_options
    @click.pass_context
    def rules_(ctx, add_suggested, enable, disable, fmt):
        """List the scoring rules (with how many contacts each gives points to); enable, disable, add suggested."""
        from . import frames, rules

        ws = open_workspace(ctx)
        with ws.store.transaction():
            if add_suggested:
                rules.add_suggested(ws)
            for names, on in ((enable, True), (disable, False)):
                for name in names:
                    found = ws.query("SELECT id, version FROM score_rules WHERE lower(name) = lower(?)", [name])
                    if not found:
                        raise NotFound(f"no scoring rule named {name!r} (crm scoring rules lists them)")
                    rules.set_enabled(ws, found[0]["id"], on, found[0]["version"])
        frame = frames.rules(ws)
        columns = ["id", "name", "kind", "reads", "points", "cap", "half_life_days", "enabled", "contacts"]
        emit(frame, columns, fmt, empty="(no rules: crm scoring rules --add-suggested)")

    @scoring.command("rescore")
    @click.pass_context
    def rescore(ctx):
        """Recompute every contact's scores now (engagement points decay with time: run it daily from cron)."""
        import time

        from . import engine

        ws = open_workspace(ctx)
        started = time.perf_counter()
        n = engine.rescore_all(ws)
        click.echo(f"rescored {n:,} contacts in {time.perf_counter() - started:.1f} s")

    @scoring.command("show")
    @click.argument("contact")
    @click.option("--json", "as_json", is_flag=True, help="One JSON object, for scripts.")
    @click.pass_context
    def show(ctx, contact, as_json):
        """One contact's rule points by rule and model score (CONTACT: id or e-mail address)."""
        from .frames import contact_report

        report = contact_report(open_workspace(ctx), contact)
        if as_json:
            click.echo(json.dumps(report, default=str))
            return
        points = report["rule_points"]
        click.echo(f"#{report['contact_id']} {report['name']} ({report['lifecycle_stage'] or 'no stage'})")
        click.echo(f"rule points: {'not scored yet' if points is None else f'{points:g}'}")
        emit(report["breakdown"], ["rule", "kind", "condition", "points"], "table", empty="  (no rule gives points)")
        click.echo(f"model: {report['model_line']}")

    @scoring.command("scores")
    @click.option("--limit", type=int, default=20, show_default=True)
    @click.option("--order", type=click.Choice(["rule_points", "model_score"]), default="rule_points")
    @output_options
    @click.pass_context
    def scores(ctx, limit, order, fmt):
        """The highest-scored contacts (the same rows as ws.df('scoring.scores'))."""
        from . import frames

        emit(frames.scores(open_workspace(ctx), limit=limit, order=order), None, fmt, empty="(no scores yet)")
