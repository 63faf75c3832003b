"""What every command needs from its invocation: the workspace file, the open Workspace, warnings.

Imported by the root group (crm_workspace/cli/__init__.py), by the admin
commands and by plugins' commands (``crm_workspace.cli.open_workspace``).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from crm_workspace.workspace import Workspace

_warned: set[str] = set()


def warn(error: Exception | str) -> None:
    """One line on stderr per distinct problem (commands and the workspace load the same plugins)."""
    if str(error) not in _warned:
        _warned.add(str(error))
        click.echo(f"warning: {error}", err=True)


def refuse_overwrite(path: str | os.PathLike, force: bool) -> None:
    """Refuse to replace an existing file unless ``--force`` was given (one clear line)."""
    if not force and os.path.lexists(path):
        raise click.ClickException(f"{path} already exists; use --force to overwrite it")


def db_path(ctx: click.Context) -> str:
    """The workspace file of this invocation: ``--db``, else ``$CRM_DB``, else ``./crm.db``."""
    root = ctx.find_root()
    return root.params.get("db") or os.environ.get("CRM_DB") or "crm.db"


def acting_user(ctx: click.Context) -> str | None:
    """``--user`` (or ``$CRM_USER``, through click), else None: the Workspace's default."""
    return ctx.find_root().params.get("user")


def open_workspace(ctx: click.Context, *, create: bool = False) -> Workspace:
    """The Workspace for this invocation (honours ``--db`` and ``--user``); closed when the command ends."""
    from crm_workspace.workspace import Workspace

    root = ctx.find_root()
    obj = root.ensure_object(dict)
    if "workspace" not in obj:
        workspace = Workspace.open(db_path(ctx), user=acting_user(ctx), create=create)
        for error in workspace.plugin_errors():
            warn(error)
        obj["workspace"] = workspace
        ctx.call_on_close(workspace.close)
    return obj["workspace"]
