"""The import page's state: params over the import steps, no widgets (views.py draws them)."""

from __future__ import annotations

from typing import Any

import param

from crm_workspace import CrmError, Workspace

from .batches import list_batches
from .batches import undo as undo_batch
from .execute import execute
from .mapping import ENTITIES, FIELDS, importable_fields
from .plan import DUPLICATE_MODES, Plan, plan_import
from .prepare import file_sha256, prepare
from .reader import Table
from .rejects import rejects_bytes

PREVIEW_ROWS = 20


class ImportModel(param.Parameterized):
    """One person's import in progress: file → sheet → header → mapping → dry run → import."""

    workspace = param.ClassSelector(class_=Workspace)
    file_name = param.String(default="")
    sheet = param.Selector(default=None, objects=[])
    header_row = param.Integer(default=1, bounds=(1, None), doc="1-based row number of the header")
    entity = param.Selector(default="contacts", objects=list(ENTITIES))
    on_duplicate = param.Selector(default="update", objects=list(DUPLICATE_MODES))
    mapping = param.Dict(default={})
    table = param.ClassSelector(class_=Table, default=None)
    plan = param.Parameter(default=None, doc="The last dry run's plan")
    preview_plan = param.Parameter(default=None)
    batch_id = param.String(default="")
    dry_run_done = param.Boolean(default=False)
    error = param.String(default="")
    progress = param.Integer(default=0, bounds=(0, 100))
    busy = param.Boolean(default=False)

    def __init__(self, **params: Any):
        super().__init__(**params)
        self._book = None
        self._data: bytes | None = None
        self._loading = False

    # ------------------------------------------------------------ steps
    def load(self, data: bytes, name: str) -> None:
        """A new file: pick the sheet, find the header, guess entity and mapping."""
        self._reset_results()
        self.error = ""
        try:
            prepared = prepare(self.workspace, data, name=name)
        except CrmError as error:
            self.error = str(error)
            self._book = None
            self.table = None
            return
        self._data = data
        self._book = prepared.book
        self._loading = True
        try:
            self.param.sheet.objects = prepared.book.sheet_names
            self.param.update(
                file_name=name,
                sheet=prepared.table.sheet,
                header_row=prepared.table.header_row + 1,
                entity=prepared.entity,
                mapping=prepared.mapping,
                table=prepared.table,
            )
        finally:
            self._loading = False
        self._preview()

    @param.depends("sheet", "header_row", watch=True)
    def _reread(self) -> None:
        if self._loading or self._book is None or self.sheet is None:
            return
        self._reset_results()
        try:
            header = None if self.table is not None and self.table.sheet != self.sheet else self.header_row - 1
            table = self._book.table(self.sheet, header)
        except CrmError as error:
            self.error = str(error)
            return
        self.error = ""
        self._loading = True
        try:
            self.header_row = table.header_row + 1
        finally:
            self._loading = False
        self.table = table
        self._guess()

    @param.depends("entity", watch=True)
    def _entity_changed(self) -> None:
        if self._loading or self.table is None:
            return
        self._reset_results()
        self._guess()

    def _guess(self) -> None:
        from .mapping import guess

        extra = [f for f in importable_fields(self.workspace, self.entity) if f not in FIELDS[self.entity]]
        self.mapping = guess(self.table.headers, self.entity, self.workspace.field_aliases(), extra)
        self._preview()

    def fields(self) -> list[str]:
        return importable_fields(self.workspace, self.entity)

    def set_field(self, header: str, field: str | None) -> None:
        """Map one column to a field (None skips it); a field is used by one column only."""
        mapping = dict(self.mapping)
        if field:
            for other, target in mapping.items():
                if target == field and other != header:
                    mapping[other] = None
        mapping[header] = field or None
        self._reset_results()
        self.mapping = mapping
        self._preview()

    def _preview(self) -> None:
        """Plan the first rows only, to mark problem cells before any dry run."""
        if self.table is None:
            self.preview_plan = None
            return
        head = Table(
            self.table.sheet,
            self.table.header_row,
            self.table.headers,
            self.table.rows[:PREVIEW_ROWS],
            self.table.row_numbers[:PREVIEW_ROWS],
        )
        try:
            self.preview_plan = plan_import(self.workspace, head, self.entity, self.mapping, self.on_duplicate)
        except CrmError as error:
            self.error = str(error)
            self.preview_plan = None

    def _reset_results(self) -> None:
        self.plan = None
        self.dry_run_done = False
        self.batch_id = ""
        self.progress = 0

    def dry_run(self) -> Plan | None:
        if self.table is None:
            self.error = "upload a spreadsheet first"
            return None
        self.error = ""
        try:
            plan = plan_import(
                self.workspace,
                self.table,
                self.entity,
                self.mapping,
                self.on_duplicate,
                file_name=self.file_name,
                sha256=file_sha256(self._data or b""),
            )
        except CrmError as error:
            self.error = str(error)
            return None
        self.plan = plan
        self.dry_run_done = True
        return plan

    def write(self, plan: Plan) -> None:
        """The write step alone (safe to run in a worker thread): progress is its only param change."""
        self._written, self._failure = None, None

        def progress(done: int, total: int) -> None:
            self.progress = int(100 * done / max(total, 1))

        try:
            self._written = execute(self.workspace, plan, progress=progress)
        except CrmError as error:
            self._failure = str(error)

    def finish(self) -> None:
        """Back on the session's thread: publish what ``write`` did."""
        if getattr(self, "_failure", None):
            self.error = self._failure
            return
        if getattr(self, "_written", None):
            self.param.update(batch_id=self._written, progress=100, dry_run_done=False)
            self.workspace.changed()

    def run_import(self) -> str | None:
        plan = self.plan if self.dry_run_done and self.plan is not None else self.dry_run()
        if plan is None:
            return None
        self.busy = True
        self.progress = 0

        def progress(done: int, total: int) -> None:
            self.progress = int(100 * done / max(total, 1))

        try:
            self.batch_id = execute(self.workspace, plan, progress=progress)
        except CrmError as error:
            self.error = str(error)
            return None
        finally:
            self.busy = False
        self.progress = 100
        self.dry_run_done = False
        return self.batch_id

    def rejects_bytes(self) -> bytes:
        return rejects_bytes(self.plan) if self.plan is not None else b""

    def export_bytes(self, entity: str) -> bytes:
        """``entity`` as an .xlsx workbook, names instead of ids (what ``crm export`` writes)."""
        from crm_workspace.services.export import to_xlsx_bytes

        from .exporting import export_frame

        return to_xlsx_bytes(export_frame(self.workspace, entity), sheet_name=entity)

    def save_recipe(self, name: str) -> None:
        from . import recipes

        if not name.strip():
            raise CrmError("give the recipe a name")
        recipes.save(
            self.workspace,
            name.strip(),
            self.entity,
            self.mapping,
            sheet=self.sheet or "",
            on_duplicate=self.on_duplicate,
        )

    def recipes(self) -> list[dict]:
        from . import recipes

        return recipes.list_all(self.workspace)

    def apply_recipe(self, name: str) -> None:
        from . import recipes

        recipe = recipes.load(self.workspace, name)
        self._loading = True
        try:
            self.param.update(entity=recipe["entity"], on_duplicate=recipe.get("on_duplicate") or "update")
        finally:
            self._loading = False
        mapping = dict(self.mapping)
        for header, target in recipe["mapping"].items():
            if header in mapping:
                mapping[header] = target
        self._reset_results()
        self.mapping = mapping
        self._preview()

    # ---------------------------------------------------------- batches
    def batches(self) -> list[dict]:
        return list_batches(self.workspace, 100)

    def undo(self, batch_id: str) -> dict[str, int]:
        return undo_batch(self.workspace, batch_id)
