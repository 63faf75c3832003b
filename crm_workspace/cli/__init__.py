"""The ``crm`` command line: a thin click layer over the Workspace.

Commands that serve nothing never import Panel or pandas, so an admin's command
answers in about a second. Domain errors become one line on stderr and a
non-zero exit, never a traceback; plugins add commands through
``crm_register_commands``.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import click

from crm_workspace import plugins as plugin_system
from crm_workspace.cli.admin import register as _register_admin_commands
from crm_workspace.cli.context import acting_user, db_path, open_workspace, refuse_overwrite
from crm_workspace.cli.context import warn as _warn
from crm_workspace.cli.dates import parse_day, parse_when
from crm_workspace.cli.mail import register as _register_mail_commands
from crm_workspace.cli.output import emit, output_options
from crm_workspace.cli.progress import progress
from crm_workspace.cli.ticks import register as _register_tick_command
from crm_workspace.errors import CrmError


class CrmGroup(click.Group):
    """The root group: adds the plugins' commands and turns CrmErrors into clean exits."""

    _plugins_loaded = False

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["crm.argv"] = list(args)  # `--db` may follow the subcommand: plugins load from that file
        return super().parse_args(ctx, args)

    def _load_plugin_commands(self, ctx: click.Context) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        host = plugin_system.PluginHost()  # the Workspace's host, without opening (or creating) the workspace
        path = _option_in(ctx.meta.get("crm.argv", []), "--db") or db_path(ctx)
        host.load_installed(disabled=_disabled_plugins(path))
        host.collect("crm_register_commands", cli=self)
        for error in host.errors.values():
            _warn(error)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_plugin_commands(ctx)
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is None or isinstance(command, click.Group):  # plugins may add to a core group (`crm mail log`)
            self._load_plugin_commands(ctx)
            command = super().get_command(ctx, name)
        return with_global_options(command) if command is not None else None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CrmError as error:
            raise click.ClickException(str(error)) from error
        except sqlite3.Error as error:
            raise click.ClickException(f"database error: {error}") from error
        except BrokenPipeError:  # `crm ... | head`: the reader has all it wants
            sys.stderr.close()
            raise click.exceptions.Exit(0) from None
        except OSError as error:
            raise click.ClickException(f"{error.strerror or error}: {error.filename or ''}".rstrip(": ")) from error


def _remember_global(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None:
        ctx.find_root().params[param.name] = value
    return value


def with_global_options(command: click.Command) -> click.Command:
    """Accept ``--db`` and ``--user`` after ``command`` too, at any depth (``crm imports list --db x.db``).

    A command with an option of the same name keeps its own (``crm audit --user``
    filters by author; give the acting user before the subcommand).
    """
    if getattr(command, "_crm_global_options", False):
        return command
    command._crm_global_options = True  # type: ignore[attr-defined]
    taken = {opt for param in command.params for opt in getattr(param, "opts", ())}
    for flag, kind, text in (
        ("--db", click.Path(dir_okay=False), "Workspace database (as `crm --db`)."),
        ("--user", None, "Act as this user (as `crm --user`)."),
    ):
        if flag not in taken:
            command.params.append(
                click.Option([flag], type=kind, expose_value=False, callback=_remember_global, help=text)
            )
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            with_global_options(sub)
    return command


def _option_in(args: list[str], flag: str) -> str | None:
    """The last value given to ``flag`` anywhere in ``args``."""
    found = None
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg == flag and i + 1 < len(args):
            found = args[i + 1]
        elif arg.startswith(flag + "="):
            found = arg.split("=", 1)[1]
    return found


def _disabled_plugins(path: str) -> set[str]:
    """The plugins disabled in the workspace at ``path``, read without creating it."""
    if not Path(path).is_file():
        return set()
    from crm_workspace.data.store import Pool, Store

    store = Store(Pool(path), "crm")
    try:
        return plugin_system.disabled_plugins(store)
    finally:
        store.pool.close()


@click.group(cls=CrmGroup)
@click.version_option(package_name="crm-workspace")
@click.option(
    "--db", envvar="CRM_DB", type=click.Path(dir_okay=False), help="Workspace database (default: $CRM_DB or ./crm.db)."
)
@click.option(
    "--user", envvar="CRM_USER", help="Act as this user in the audit trail (default: $CRM_USER or your login)."
)
def cli(db: str | None, user: str | None) -> None:
    """crm-workspace: a CRM inside your Python data workspace."""


@cli.command()
@click.option("--demo", is_flag=True, help="Fill the new workspace with realistic sample data.")
@click.option("--seed", default=42, show_default=True, help="Random seed of the demo data.")
@click.option("--contacts", type=click.IntRange(1), help="Demo size: contacts (default 300).")
@click.option("--organizations", type=click.IntRange(1), help="Demo size: organizations (default contacts/6).")
@click.option("--deals", type=click.IntRange(1), help="Demo size: deals (default contacts/2).")
@click.option("--activities", type=click.IntRange(0), help="Demo size: activities (default 5 per contact).")
@click.option("--relationships", type=click.IntRange(0), help="Demo size: relationships (default 2 per 3 contacts).")
@click.option("--force", is_flag=True, help="With --demo: replace an existing workspace file.")
@click.pass_context
def init(ctx: click.Context, demo: bool, seed: int, force: bool, **sizes: int | None) -> None:
    """Create (or migrate) a workspace database; --demo fills it with sample data."""
    path = Path(db_path(ctx))
    if demo and path.exists():
        if not force:
            raise click.ClickException(f"{path} already exists; use --force to replace it with demo data")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    started = time.perf_counter()
    workspace = open_workspace(ctx, create=True)
    if not demo:
        from crm_workspace.data.permissions import bootstrap_admin

        if bootstrap_admin(workspace.store, workspace.user):  # ends setup mode: unknown users get no rights
            click.echo(f"{workspace.user} is the workspace's first admin (crm users add NAME for others)")
        click.echo(f"workspace ready: {path}")
        return
    from crm_workspace.services.demo import DemoSize, generate

    size = DemoSize.for_contacts(sizes.pop("contacts") or 300, **sizes)
    steps = ["users", "organizations", "contacts", "deals", "activities", "relationships", "plugins"]
    with progress("demo data: users", len(steps), unit="steps") as bar:

        def step_done(step: str) -> None:
            done = steps.index(step) + 1 if step in steps else bar.done or 0
            bar.relabel(f"demo data: {steps[done] if done < len(steps) else 'done'}")
            bar.update(done)

        generate(workspace, size, seed=seed, progress=step_done)
    click.echo(
        f"demo workspace ready: {path} — {size.organizations:,} organizations, {size.contacts:,} contacts, "
        f"{size.deals:,} deals, {size.activities:,} activities ({time.perf_counter() - started:.1f} s)"
    )


@cli.command()
@click.option("--port", default=5006, show_default=True, type=click.IntRange(0, 65535))
@click.option("--address", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--show", is_flag=True, help="Open a browser tab.")
@click.option("--num-procs", default=1, show_default=True, type=click.IntRange(1), help="Server processes.")
@click.option("--no-tick", is_flag=True, help="Do not run the plugins' periodic work (crm_tick) in the background.")
@click.pass_context
def serve(ctx: click.Context, port: int, address: str, show: bool, num_procs: int, no_tick: bool) -> None:
    """Serve every enabled module's dashboard and HTTP routes, and run their periodic work."""
    open_workspace(ctx).close()  # refuse a missing database; migrate before any session opens it
    from crm_workspace.web.server import serve as run
    from crm_workspace.web.session import ServeConfig

    config = ServeConfig(path=str(Path(db_path(ctx)).resolve()), user=acting_user(ctx))
    run(config, port=port, address=address, show=show, num_procs=num_procs, tick=not no_tick)


@cli.group()
def plugins() -> None:
    """Installed plugins: list, enable, disable; scaffold a new one."""


@plugins.command("list")
@output_options
@click.pass_context
def plugins_list(ctx: click.Context, fmt: str) -> None:
    """The installed plugins, their version, enabled or not, and their hooks."""
    rows = [
        {
            "name": info.name,
            "version": info.version,
            "state": "failed" if info.error else "enabled" if info.enabled else "disabled",
            "enabled": bool(info.enabled and not info.error),
            "origin": "built-in" if info.builtin else info.distribution,
            "hooks": [h.removeprefix("crm_") for h in info.hooks],
            "error": str(info.error) if info.error else None,
        }
        for info in open_workspace(ctx).plugins()
    ]
    columns = ["name", "version", "state", "origin", "hooks"]
    if fmt != "table":
        columns = [*columns[:3], "enabled", *columns[3:], "error"]
    elif any(row["error"] for row in rows):
        columns.append("error")
    emit(rows, columns, fmt, empty="no plugins installed")


@plugins.command("enable")
@click.argument("name")
@click.pass_context
def plugins_enable(ctx: click.Context, name: str) -> None:
    """Enable an installed plugin (kept in the database)."""
    open_workspace(ctx).enable(name)
    click.echo(f"enabled {name}")


@plugins.command("disable")
@click.argument("name")
@click.pass_context
def plugins_disable(ctx: click.Context, name: str) -> None:
    """Disable an installed plugin (kept in the database)."""
    open_workspace(ctx).disable(name)
    click.echo(f"disabled {name}")


@plugins.command("new")
@click.argument("name")
@click.option(
    "--dir", "directory", default=".", show_default=True, type=click.Path(file_okay=False), help="Where to write it."
)
def plugins_new(name: str, directory: str) -> None:
    """Scaffold a pip-installable plugin package NAME (entry point, page, migration, metric, test)."""
    from crm_workspace.cli.scaffold import new_plugin

    root = new_plugin(name, directory)
    click.echo(f"created {root}\nnext: pip install -e {root} && crm plugins list")


__all__ = [
    "cli",
    "db_path",
    "emit",
    "main",
    "open_workspace",
    "output_options",
    "parse_day",
    "parse_when",
    "progress",
    "refuse_overwrite",
]

_register_admin_commands(cli)  # users, audit, privacy, backup, restore (crm_workspace/cli/admin.py)
_register_mail_commands(cli)  # mail test/outbox/send/requeue (crm_workspace/cli/mail.py)
_register_tick_command(cli)  # tick (crm_workspace/cli/ticks.py)


def main() -> None:
    try:
        cli(prog_name="crm")
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
