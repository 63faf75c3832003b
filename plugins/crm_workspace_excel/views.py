"""Import / export page: upload, sheet, header, mapping, preview, dry run, import, rejects, undo."""

from __future__ import annotations

import asyncio
import html
import io

import panel as pn
import param

from crm_workspace import CrmError, Workspace
from crm_workspace.web.display import label, when_html
from crm_workspace.web.icons import svg
from crm_workspace.web.list_table import ListTable

from .mapping import ENTITIES
from .model import PREVIEW_ROWS, ImportModel

SKIP = "— skip —"


def _notify_error(message: str) -> None:
    if pn.state.notifications is not None:
        pn.state.notifications.error(message, duration=6000)


class ImportPage(pn.viewable.Viewer):
    workspace = param.ClassSelector(class_=Workspace)

    def __init__(self, **params):
        super().__init__(**params)
        self.model = ImportModel(workspace=self.workspace)
        self.upload = pn.widgets.FileInput(accept=".xlsx,.xlsm,.xls,.ods,.csv", label="Spreadsheet", multiple=False)
        self.upload.param.watch(self._uploaded, "value")
        self.sheet = pn.widgets.Select.from_param(self.model.param.sheet, label="Sheet", width=220)
        self.header = pn.widgets.IntInput.from_param(self.model.param.header_row, label="Header row", width=120)
        self.entity = pn.widgets.Select.from_param(self.model.param.entity, label="Import as", width=160)
        self.on_duplicate = pn.widgets.Select.from_param(self.model.param.on_duplicate, label="On duplicate", width=140)
        self.dry_button = pn.widgets.Button(label="Dry run", color="primary", width=120)
        self.import_button = pn.widgets.Button(label="Import", color="success", width=120)
        self.dry_button.on_click(lambda _e: self._dry_run())
        self.import_button.on_click(self._import)
        self.progress = pn.indicators.Progress(value=0, max=100, width=300, visible=False, label="Import progress")
        self.rejects = pn.widgets.FileDownload(
            callback=self._rejects_file,
            filename="rejects.xlsx",
            label="Download rejects",
            color="warning",
            visible=False,
            width=200,
        )
        self.recipe_name = pn.widgets.TextInput(placeholder="recipe name", width=160)
        self.save_recipe = pn.widgets.Button(label="Save mapping", width=130)
        self.save_recipe.on_click(lambda _e: self._save_recipe())
        self.recipe_select = pn.widgets.Select(label="Saved recipe", options=[], width=200)
        self.apply_recipe = pn.widgets.Button(label="Apply recipe", width=130)
        self.apply_recipe.on_click(lambda _e: self._apply_recipe())
        self._refresh_recipes()
        self.batch_select = pn.widgets.Select(label="Batch", options=[], width=260)
        self.undo_button = pn.widgets.Button(label="Undo batch", color="danger", width=120)
        self.undo_button.on_click(lambda _e: self._undo())
        self.undo_message = pn.pane.Markdown("")
        self.export_entity = pn.widgets.Select(label="Export", options=list(ENTITIES), width=160)
        self.export_button = pn.widgets.FileDownload(
            callback=self._export_file, filename="contacts.xlsx", label="Download .xlsx", width=180
        )
        self.export_entity.param.watch(lambda e: setattr(self.export_button, "filename", f"{e.new}.xlsx"), "value")
        self.model.param.watch(lambda e: setattr(self.progress, "value", e.new), "progress")
        # The mapping section is laid out once; the model's changes update it in place (see _sync_mapping)
        self._selects: dict[str, pn.widgets.Select] = {}
        self._select_key: tuple = ()
        self._syncing = False
        self.mapping_box = pn.FlexBox()
        self.mapping_section = pn.Column(
            "### Mapping",
            self.mapping_box,
            pn.Row(self.recipe_name, self.save_recipe, self.recipe_select, self.apply_recipe),
            visible=False,
            sizing_mode="stretch_width",
        )
        self.model.param.watch(self._sync_mapping, ["table", "entity", "mapping"])
        self._sync_mapping()

    # ------------------------------------------------------------ actions
    def _uploaded(self, event) -> None:
        if not event.new:
            return
        self.model.load(event.new, self.upload.filename or "upload.xlsx")
        if self.model.error:
            _notify_error(self.model.error)

    def _dry_run(self) -> None:
        self.model.dry_run()
        if self.model.error:
            _notify_error(self.model.error)

    async def _import(self, _event=None) -> None:
        """Write in a worker thread (its own SQLite connection) so the progress bar moves meanwhile."""
        self.progress.visible = True
        self.progress.value = 0
        self.import_button.disabled = True
        self.dry_button.disabled = True
        try:
            plan = self.model.plan if self.model.dry_run_done and self.model.plan is not None else self.model.dry_run()
            if plan is not None:
                await asyncio.to_thread(self.model.write, plan)
        finally:
            self.import_button.disabled = False
            self.dry_button.disabled = False
        self.model.finish()
        if self.model.error:
            _notify_error(self.model.error)

    def _rejects_file(self):
        return io.BytesIO(self.model.rejects_bytes())

    def _export_file(self):
        return io.BytesIO(self.model.export_bytes(self.export_entity.value))

    def _save_recipe(self) -> None:
        try:
            self.model.save_recipe(self.recipe_name.value)
        except CrmError as error:
            _notify_error(str(error))
            return
        self._refresh_recipes()
        if pn.state.notifications is not None:
            pn.state.notifications.success(f"saved mapping recipe '{self.recipe_name.value}'")

    @param.depends("workspace.revision", watch=True)
    def _refresh_recipes(self) -> None:
        """The saved recipes, this session's and those saved from elsewhere (another browser, the CLI)."""
        names = [r["name"] for r in self.model.recipes()]
        if names != self.recipe_select.options:
            self.recipe_select.options = names
        self.recipe_select.disabled = self.apply_recipe.disabled = not names

    def _apply_recipe(self) -> None:
        name = self.recipe_select.value
        if not name:
            return
        try:
            self.model.apply_recipe(name)
        except CrmError as error:
            _notify_error(str(error))
            return
        if pn.state.notifications is not None:
            pn.state.notifications.success(f"applied mapping recipe '{name}'")

    def _undo(self) -> None:
        batch = self.batch_select.value
        if not batch:
            return
        try:
            result = self.model.undo(batch)
        except CrmError as error:
            self.undo_message.object = f"{svg('alert-triangle', 16)} {html.escape(str(error))}"
            _notify_error(str(error))
            return
        self.undo_message.object = (
            f"Undone {html.escape(batch)}: {result['deleted']:,} deleted, {result['restored']:,} restored."
        )

    # -------------------------------------------------------------- views
    @param.depends("model.error")
    def _error(self):
        if not self.model.error:
            return pn.pane.Markdown("")
        return pn.pane.Alert(html.escape(self.model.error), alert_type="danger")

    @param.depends("model.table")
    def _detected(self):
        table = self.model.table
        if table is None:
            return pn.pane.Markdown("Upload a spreadsheet (.xlsx, .xlsm, .xls, .ods or .csv) to start.")
        skipped = f" · {len(table.skipped)} title/footer rows left out" if table.skipped else ""
        return pn.pane.Markdown(
            f"**{html.escape(self.model.file_name)}** · sheet **{html.escape(table.sheet)}** · header on row "
            f"**{table.header_row + 1}** · {len(table.rows):,} data rows{skipped}"
        )

    def _sync_mapping(self, *_events) -> None:
        """Show the model's mapping: new selects only for a new set of columns or fields, else new values.

        Every widget here stays in the one layout built in ``__init__``: re-drawing the
        section on each change moved the recipe row between layouts and replaced the select
        a person had just used, and a refresh from another connection's write landing
        meanwhile made the browser apply messages about models it no longer had
        ("reference pNNNN isn't known").
        """
        table = self.model.table
        if table is None:
            self.mapping_section.visible = False
            return
        options = [SKIP, *self.model.fields()]
        key = (tuple(table.headers), tuple(options))
        if key != self._select_key:
            selects = {
                header: pn.widgets.Select(label=header, options=options, value=self._shown(header, options), width=190)
                for header in table.headers
            }
            for header, select in selects.items():
                select.param.watch(lambda e, h=header: self._picked(h, e.new), "value")
            self._select_key, self._selects = key, selects
            self.mapping_box.objects = list(selects.values())
        else:
            self._syncing = True
            try:
                for header, select in self._selects.items():
                    select.value = self._shown(header, options)
            finally:
                self._syncing = False
        self.mapping_section.visible = True

    def _shown(self, header: str, options: list[str]) -> str:
        current = self.model.mapping.get(header) or SKIP
        return current if current in options else SKIP

    def _picked(self, header: str, choice: str) -> None:
        if not self._syncing:
            self.model.set_field(header, None if choice == SKIP else choice)

    @param.depends("model.preview_plan", "model.plan")
    def _preview(self):
        table = self.model.table
        plan = self.model.plan or self.model.preview_plan
        if table is None:
            return pn.Column()
        problems = plan.problems if plan is not None else {}
        reasons = dict(plan.rejects) if plan is not None else {}
        mapping = self.model.mapping
        head = "".join(
            f"<th>{html.escape(h)}<br><small>→ {html.escape(mapping.get(h) or 'skip')}</small></th>"
            for h in table.headers
        )
        body = []
        for index, row in enumerate(table.rows[:PREVIEW_ROWS]):
            cells = []
            for header, value in zip(table.headers, row, strict=False):
                text = "" if value is None else str(value)
                problem = problems.get((index, header))
                if problem:
                    cells.append(
                        f'<td class="problem" title="{html.escape(problem)}" style="background:#fde2e1">{html.escape(text)} ⚠</td>'
                    )
                else:
                    cells.append(f"<td>{html.escape(text)}</td>")
            reason = reasons.get(index)
            note = f'<td class="reason" style="color:#b42318">{html.escape(reason)}</td>' if reason else "<td></td>"
            body.append(f"<tr><td>{table.row_numbers[index]}</td>{''.join(cells)}{note}</tr>")
        markup = (
            '<div style="overflow:auto;max-height:420px"><table class="import-preview" style="border-collapse:collapse;font-size:12px">'
            f"<thead><tr><th>Row</th>{head}<th>Problem</th></tr></thead><tbody>{''.join(body)}</tbody></table></div>"
        )
        return pn.Column(
            f"### Preview (first {min(PREVIEW_ROWS, len(table.rows))} of {len(table.rows):,} rows)",
            pn.pane.HTML(markup, sizing_mode="stretch_width"),
        )

    @param.depends("model.plan", "model.batch_id", "model.dry_run_done")
    def _result(self):
        plan = self.model.plan
        if plan is None:
            self.rejects.visible = False
            return pn.pane.Markdown("")
        if self.model.batch_id:
            title = f"### Imported — batch `{html.escape(self.model.batch_id)}`\n\n{html.escape(plan.summary())}"
            self.rejects.filename = f"rejects-{self.model.batch_id}.xlsx"
        else:
            title = f"### Dry run — nothing written yet\n\nWould import: {html.escape(plan.summary())}"
            self.rejects.filename = "rejects-dry-run.xlsx"
        self.rejects.visible = bool(plan.rejects)
        lines = "\n".join(f"- {html.escape(line.strip())}" for line in plan.details(limit=30))
        return pn.pane.Markdown(f"{title}\n\n{lines}", sizing_mode="stretch_width")

    @param.depends("workspace.revision")
    def _batches(self):
        rows = self.model.batches()
        self.batch_select.options = [r["id"] for r in rows if r["status"] != "undone"]
        if not rows:
            return pn.pane.Markdown("No imports yet.")
        import pandas as pd

        frame = pd.DataFrame(rows)[
            ["id", "at", "user", "file_name", "entity", "created", "updated", "skipped", "rejected", "status"]
        ]
        frame = frame.assign(at=[when_html(v) for v in frame["at"]])  # "3 days ago", the exact time on hover
        return ListTable(
            frame,
            page_size=10,
            sizing_mode="stretch_width",
            formatters={"at": "html"},
            titles={c: label(c) for c in frame.columns} | {"id": "Batch", "at": "When", "file_name": "File"},
        )

    def __panel__(self):
        return pn.Column(
            "## Import a spreadsheet",
            pn.Row(self.upload, self.sheet, self.header, self.entity, self.on_duplicate),
            self._error,
            self._detected,
            self.mapping_section,
            self._preview,
            pn.Row(self.dry_button, self.import_button, self.progress),
            self._result,
            self.rejects,
            "## Import batches",
            self._batches,
            pn.Row(self.batch_select, self.undo_button),
            self.undo_message,
            "## Export",
            pn.Row(self.export_entity, self.export_button),
            sizing_mode="stretch_width",
        )
