"""``crm import``, ``crm imports list|undo|recipes``, ``crm export``."""

from __future__ import annotations

from pathlib import Path

import click

from crm_workspace import CrmError
from crm_workspace.cli import emit, open_workspace, output_options, progress, refuse_overwrite

from .mapping import ENTITIES


def register(cli: click.Group) -> None:
    cli.add_command(import_command)
    cli.add_command(imports)
    cli.add_command(export_command)


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--entity", type=click.Choice(ENTITIES), help="What the rows are (default: guessed from the headers).")
@click.option("--sheet", help="Sheet to read (default: the one that looks like data).")
@click.option("--header-row", type=click.IntRange(1), help="Row number of the header (default: detected).")
@click.option(
    "--map", "map_options", multiple=True, metavar="HEADER=field", help="Map a column to a field (HEADER= skips it)."
)
@click.option("--dry-run", is_flag=True, help="Show exactly what would happen; write nothing.")
@click.option("--on-duplicate", type=click.Choice(["update", "skip", "create"]), default="update", show_default=True)
@click.option("--recipe", help="Use a saved mapping recipe.")
@click.option("--save-recipe", metavar="NAME", help="Save this mapping as a recipe for next time.")
@click.option(
    "--rejects", "rejects_path", type=click.Path(dir_okay=False, path_type=Path), help="Where to write rejected rows."
)
@click.option("--force", is_flag=True, help="Overwrite the --rejects file if it exists.")
@click.pass_context
def import_command(
    ctx, file, entity, sheet, header_row, map_options, dry_run, on_duplicate, recipe, save_recipe, rejects_path, force
):
    """Import a spreadsheet (.xlsx, .xlsm, .xls, .ods, .csv) of contacts, organizations or deals."""
    from . import recipes
    from .plan import plan_import
    from .prepare import prepare

    if not file.exists():
        raise CrmError(f"no such file: {file}")
    if rejects_path and not dry_run:
        refuse_overwrite(rejects_path, force)
    workspace = open_workspace(ctx)
    saved = recipes.load(workspace, recipe) if recipe else None
    with progress(f"reading {file.name}"):
        prepared = prepare(
            workspace,
            file,
            entity=entity,
            sheet=sheet,
            header_row=header_row - 1 if header_row else None,
            map_options=map_options,
            recipe=saved,
        )
    if saved and on_duplicate == "update" and ctx.get_parameter_source("on_duplicate").name == "DEFAULT":
        on_duplicate = saved.get("on_duplicate") or on_duplicate
    table = prepared.table
    click.echo(
        f"{prepared.file_name} · sheet '{table.sheet}' · header on row {table.header_row + 1} · "
        f"{len(table.rows):,} data rows · importing {prepared.entity}",
        err=True,
    )
    mapped = ", ".join(f"{h} → {f}" for h, f in prepared.mapping.items() if f)
    unmapped = [h for h, f in prepared.mapping.items() if not f]
    click.echo(f"mapping: {mapped}" + (f" · not imported: {', '.join(unmapped)}" if unmapped else ""), err=True)
    with progress(f"checking {len(table.rows):,} rows"):
        plan = plan_import(
            workspace,
            table,
            prepared.entity,
            prepared.mapping,
            on_duplicate,
            file_name=prepared.file_name,
            sha256=prepared.sha256,
        )
    if save_recipe:
        recipes.save(
            workspace, save_recipe, prepared.entity, prepared.mapping, sheet=table.sheet, on_duplicate=on_duplicate
        )
        click.echo(f"saved mapping recipe '{save_recipe}'", err=True)
    # The plan holds what the write needs (records, rejected rows' cells): let the sheet go first.
    del prepared, table
    if dry_run:
        click.echo(f"dry run — would import: {plan.summary()}")
        for line in plan.details(limit=50):
            click.echo(line)
        click.echo("nothing was written")
        return
    batch_id = _write(workspace, plan)
    click.echo(f"imported: {plan.summary()}")
    click.echo(f"batch: {batch_id}  (undo with `crm imports undo {batch_id}`)")
    if plan.rejects:
        from .rejects import write_rejects

        target = rejects_path or _rejects_path(file, batch_id)
        written = write_rejects(plan, target)
        click.echo(f"rejects: {written}")
        for line in [line for line in plan.details(limit=10) if "rejected" in line]:
            click.echo(line, err=True)


def _write(workspace, plan) -> str:
    """Write the plan with a progress line; an interrupt that comes after the commit still reports the batch.

    Ctrl-C before the commit rolls everything back; one that lands while SQLite
    commits (or just after) must not be reported as "Aborted!" for an import that
    is in the database, so the batch is looked up before giving up.
    """
    from .execute import execute

    total = len(plan.creates) + len(plan.updates) + len(plan.new_orgs)
    started = workspace.store.scalar("SELECT coalesce(max(rowid), 0) FROM import_batches")
    try:
        with progress("writing", total) as bar:
            return execute(workspace, plan, progress=bar.update)
    except KeyboardInterrupt:
        committed = workspace.store.scalar(
            "SELECT id FROM import_batches WHERE rowid > ? AND sha256 IS ? AND status = 'done' ORDER BY rowid LIMIT 1",
            [started, plan.sha256],
        )
        if committed is None:
            raise click.ClickException("interrupted: nothing was imported") from None
        click.echo("interrupted after the import was committed: it is complete", err=True)
        return committed


def _rejects_path(file: Path, batch_id: str) -> Path:
    name = f"{file.stem}.rejects-{batch_id}.xlsx"
    folder = file.resolve().parent
    try:
        probe = folder / f".{name}.probe"
        probe.touch()
        probe.unlink()
        return folder / name
    except OSError:
        return Path.cwd() / name


@click.group()
def imports():
    """Import batches: list, undo; saved mapping recipes."""


@imports.command("list")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1))
@output_options
@click.pass_context
def imports_list(ctx, limit, fmt):
    """The import batches, newest first."""
    from .batches import list_batches

    rows = list_batches(open_workspace(ctx), limit)
    columns = ["id", "at", "user", "entity", "created", "updated", "skipped", "rejected", "status", "file_name"]
    emit(rows, columns if fmt == "table" else None, fmt, empty="no imports yet")


@imports.command("undo")
@click.argument("batch")
@click.pass_context
def imports_undo(ctx, batch):
    """Undo one import batch: delete what it created, restore what it updated."""
    from .batches import undo

    workspace = open_workspace(ctx)
    with progress(f"undoing {batch}"):
        result = undo(workspace, batch)
    click.echo(f"undone {batch}: {result['deleted']:,} records deleted, {result['restored']:,} restored")


@imports.command("recipes")
@output_options
@click.pass_context
def imports_recipes(ctx, fmt):
    """Saved mapping recipes."""
    from .recipes import list_all

    rows = list_all(open_workspace(ctx))
    empty = "no saved recipes (save one with `crm import FILE --save-recipe NAME`)"
    emit(rows, ["name", "entity", "sheet", "on_duplicate"] if fmt == "table" else None, fmt, empty=empty)


@click.command("export")
@click.argument("entity")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
@click.pass_context
def export_command(ctx, entity, file, force):
    """Export a table (contacts, organizations, deals, ...) to an Excel workbook."""
    from crm_workspace.services.export import write_xlsx

    from .exporting import export_frame

    if file.suffix.lower() not in (".xlsx", ".xlsm"):
        raise CrmError(f"{file}: export writes .xlsx files (name it {file.with_suffix('.xlsx').name})")
    refuse_overwrite(file, force)
    workspace = open_workspace(ctx)
    frame = export_frame(workspace, entity)
    write_xlsx(frame, file, sheet_name=entity)
    click.echo(f"exported {len(frame):,} {entity} to {file}")
