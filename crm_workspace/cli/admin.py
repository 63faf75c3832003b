"""Admin commands: users and roles, the audit trail, privacy, backup and restore.

Added to the root ``crm`` group by crm_workspace/cli/__init__.py. Permissions are not
checked here but in the Store (crm_workspace/data/permissions.py), so a viewer is
refused the same way here, in a notebook and in a dashboard.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from crm_workspace.cli.context import db_path, open_workspace, refuse_overwrite
from crm_workspace.cli.dates import parse_when
from crm_workspace.cli.output import emit, output_options
from crm_workspace.data import permissions
from crm_workspace.data.audit import audit_rows, describe_change
from crm_workspace.errors import CrmError, NotFound

if TYPE_CHECKING:
    from crm_workspace.workspace import Workspace


def _ws(ctx: click.Context) -> Workspace:
    return open_workspace(ctx, create=False)


def _db(ctx: click.Context) -> Path:
    return Path(db_path(ctx))


def _read_password(password_stdin: bool, *, confirm: bool = True) -> str:
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=confirm)
    return password


def _on_off(value: str) -> bool:
    return value.lower() in ("on", "true", "yes", "1")


# ------------------------------------------------------------------ users
@click.group()
def users() -> None:
    """Users and roles (admin, member, viewer); see crm_workspace/data/permissions.py."""


@users.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(permissions.ROLES), default="member", show_default=True)
@click.option("--name", "display_name", help="Display name.")
@click.option("--email")
@click.option("--password/--no-password", default=True, show_default=True, help="Ask for a login password.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@click.pass_context
def users_add(
    ctx: click.Context,
    username: str,
    role: str,
    display_name: str | None,
    email: str | None,
    password: bool,
    password_stdin: bool,
) -> None:
    """Add a user (with a login password unless --no-password)."""
    from crm_workspace.data.store import utcnow

    permissions.check_username(username)
    ws = _ws(ctx)
    if ws.store.query("SELECT 1 FROM users WHERE username = ?", [username]):
        raise CrmError(f"user '{username}' already exists")
    first = not ws.store.query("SELECT 1 FROM users LIMIT 1")
    if first and role != "admin":
        raise CrmError("the first user must be an admin (--role admin): once a user exists, others have no rights")
    record: dict[str, Any] = {
        "username": username,
        "display_name": display_name or username,
        "email": email,
        "role": role,
        "active": 1,
        "created_at": utcnow(),
    }
    if password or password_stdin:
        record["password_hash"] = permissions.hash_password(_read_password(password_stdin))
    ws.store.insert("users", record)
    click.echo(f"added {username} ({role}){' with a login password' if 'password_hash' in record else ''}")
    if first and username != ws.user:
        click.echo(f"setup mode ended: only users may act now (--user {username} or CRM_USER={username})", err=True)


@users.command("list")
@output_options
@click.pass_context
def users_list(ctx: click.Context, fmt: str) -> None:
    """Every user: role, active, login password set or not."""
    ws = _ws(ctx)
    rows = ws.store.query("SELECT username, display_name, email, role, active FROM users ORDER BY username")
    with_password = ws.store.users_with_password()  # the hashes themselves read as NULL
    for row in rows:
        row["active"] = row["active"] not in (0, "0")
        row["login"] = row["username"] in with_password
    empty = "no users yet: setup mode, everyone may write (add an admin: `crm users add NAME --role admin`)"
    emit(rows, ["username", "role", "active", "login", "display_name", "email"], fmt, empty=empty)


def _admins_left(ws, without: str) -> int:
    return ws.store.scalar(
        "SELECT count(*) FROM users WHERE role = 'admin' AND coalesce(active, 1) != 0 AND username != ?", [without]
    )


@users.command("set-role")
@click.argument("username")
@click.argument("role", type=click.Choice(permissions.ROLES))
@click.pass_context
def users_set_role(ctx: click.Context, username: str, role: str) -> None:
    """Change a user's role."""
    ws = _ws(ctx)
    user = ws.store.get("users", username)
    if user["role"] == "admin" and role != "admin" and not _admins_left(ws, username):
        raise CrmError(f"{username} is the last admin; make someone else admin first")
    ws.store.update("users", username, {"role": role})
    click.echo(f"{username} is now {role}")


@users.command("passwd")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the new password from the first line of stdin.")
@click.option("--clear", is_flag=True, help="Remove the login password (the user can no longer log in).")
@click.pass_context
def users_passwd(ctx: click.Context, username: str, password_stdin: bool, clear: bool) -> None:
    """Set (or --clear) a user's login password; stored as an argon2 hash."""
    ws = _ws(ctx)
    ws.store.get("users", username)
    value = None if clear else permissions.hash_password(_read_password(password_stdin))
    ws.store.update("users", username, {"password_hash": value})
    click.echo(f"password of {username} {'cleared' if clear else 'changed'}")


@users.command("remove")
@click.argument("username")
@click.pass_context
def users_remove(ctx: click.Context, username: str) -> None:
    """Remove a user (their records keep their owner name; the audit trail keeps their changes)."""
    ws = _ws(ctx)
    user = ws.store.get("users", username)
    if user["role"] == "admin" and not _admins_left(ws, username):  # else: setup mode again, or no admin at all
        raise CrmError(f"{username} is the last admin; make someone else admin first")
    ws.store.delete("users", username)
    click.echo(f"removed {username}")


@users.command("policy")
@click.option("--members-edit-all", type=click.Choice(["on", "off"]), help="Members may edit every record (on).")
@click.pass_context
def users_policy(ctx: click.Context, members_edit_all: str | None) -> None:
    """Show or change the access policy (admins only); unknown and disabled users never have rights."""
    ws = _ws(ctx)
    if members_edit_all is not None:
        ws.set_setting("members_edit_all", _on_off(members_edit_all))
    click.echo(f"members_edit_all: {'on' if ws.setting('members_edit_all', True) else 'off'}")


# ------------------------------------------------------------------ audit
@click.command("audit")
@click.option("--record", help="TABLE:ID, e.g. contacts:12")
@click.option("--user", "by_user", help="Changes by this user (act as someone with `crm --user NAME audit`).")
@click.option("--since", help="From this time: 2026-01-31, today, yesterday, 3d, 12h, '2 weeks ago' (UTC).")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1))
@output_options
@click.pass_context
def audit(ctx: click.Context, record: str | None, by_user: str | None, since: str | None, limit: int, fmt: str):
    """The audit trail: every change, who, when, before and after (admins only)."""
    ws = _ws(ctx)
    permissions.require_admin(ws.store, "read the audit trail")
    since = parse_when(since) if since else None
    rows = audit_rows(ws.store, record=record, user=by_user, since=since, limit=limit)
    for row in rows:
        row["record"] = f"{row['table_name']}:{row['row_id']}"
        row["change"] = describe_change(row)
        row["changes"] = _decoded(row.get("changes"))
    if fmt == "table":
        emit(rows, ["at", "user", "action", "record", "change"], fmt, empty="no audit entries match")
    else:
        emit(rows, [c for c in rows[0] if c not in ("record", "change")] if rows else [], fmt)


def _decoded(value: Any) -> Any:
    """A JSON column as the object it holds (nested in --json output, not a string inside JSON)."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


# ---------------------------------------------------------------- privacy
@click.group()
def privacy() -> None:
    """Privacy requests (GDPR/CCPA): export or erase a person's data."""


@privacy.command("export")
@click.argument("email")
@click.option("--out", "out_dir", default=".", type=click.Path(file_okay=False), help="Directory to write into.")
@click.pass_context
def privacy_export(ctx: click.Context, email: str, out_dir: str) -> None:
    """Everything held about the person with EMAIL, as JSON and Excel."""
    from crm_workspace.services import privacy as privacy_module

    ws = _ws(ctx)
    permissions.require_admin(ws.store, "export a person's data")
    json_path, xlsx_path = privacy_module.export(ws, email, out_dir)
    click.echo(f"wrote {json_path} and {xlsx_path}")


@privacy.command("erase")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--receipt-dir", default=".", type=click.Path(file_okay=False), help="Where to write the receipt.")
@click.pass_context
def privacy_erase(ctx: click.Context, email: str, yes: bool, receipt_dir: str) -> None:
    """Anonymize the person with EMAIL everywhere, history included; writes a receipt."""
    from crm_workspace.services import privacy as privacy_module

    ws = _ws(ctx)
    contact = privacy_module.find_contact(ws, email)
    if not yes:
        click.confirm(f"Erase contact #{contact['id']} and their history? This cannot be undone", abort=True)
    receipt = privacy_module.erase(ws, email, receipt_dir)
    click.echo(f"erased contact #{contact['id']}; receipt: {receipt}")
    done = json.loads(receipt.read_text(encoding="utf-8"))
    for backup in done["backups_still_holding_the_person"]:
        click.echo(f"warning: the backup {backup['file']} was made before the erasure and still holds this person")
    if not done["old_versions_purged_from_wal"]:
        click.echo(
            "warning: a reader kept the WAL busy: old values stay in its -wal file until the last process closes"
        )


@privacy.command("consent")
@click.argument("email")
@click.option("--grant/--withdraw", required=True, help="Give marketing consent, or withdraw it.")
@click.option("--source", required=True, help="Where it came from: the form, email or event (stored with it).")
@click.option("--at", "at", default=None, help="When it was given or withdrawn (ISO time; default now).")
@click.pass_context
def privacy_consent(ctx: click.Context, email: str, grant: bool, source: str, at: str | None) -> None:
    """Record the marketing consent of the person with EMAIL: the only way to re-grant a withdrawal."""
    from crm_workspace.core_rules import record_consent
    from crm_workspace.services import privacy as privacy_module

    ws = _ws(ctx)
    contact = privacy_module.find_contact(ws, email)
    row = record_consent(ws, contact["id"], grant, source, at)
    state = "given" if row["marketing_consent"] else "withdrawn"
    click.echo(f"contact #{row['id']}: marketing consent {state} at {row['consent_at']} ({row['consent_source']})")


# ---------------------------------------------------------------- backups
@click.command("backup")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
@click.pass_context
def backup_command(ctx: click.Context, file: str, force: bool) -> None:
    """Copy the workspace to FILE (online backup: safe while serving)."""
    from crm_workspace.services.backup import backup as run

    db = _db(ctx)
    if not db.is_file():
        raise NotFound(f"no workspace at {db}")
    refuse_overwrite(file, force)
    target = run(db, file)
    click.echo(f"backed up {db} to {target} ({target.stat().st_size:,} bytes)")


@click.command("restore")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def restore_command(ctx: click.Context, file: str, yes: bool) -> None:
    """Replace the workspace with the backup FILE (the current one is kept aside)."""
    from crm_workspace.services.backup import check_workspace, restore

    db = _db(ctx)
    check_workspace(file)
    if db.exists() and not yes:
        click.confirm(f"Replace the content of {db} with {file}?", abort=True)
    kept = restore(file, db)
    click.echo(f"restored {db} from {file}" + (f"; previous content kept in {kept}" if kept else ""))


def register(cli: click.Group) -> None:
    """Add the admin commands to the root group."""
    for command in (users, audit, privacy, backup_command, restore_command):
        cli.add_command(command)
