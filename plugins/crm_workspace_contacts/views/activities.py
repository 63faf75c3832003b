"""Activities: log a call/email/meeting/note on a record in two clicks; the "My tasks" page."""

from __future__ import annotations

from typing import Any

import pandas as pd
import panel as pn
import param

from crm_workspace import ConflictError, CrmError, Workspace
from crm_workspace.web.display import day
from crm_workspace.web.icons import svg
from crm_workspace.web.list_table import ListTable, RowClick

from ..drafts import ActivityDraft
from ..records import ACTIVITY_ICONS, mark_all_done, my_task_counts, my_tasks
from .common import READ_ONLY_TIP, E, notify, read_only

#: one button per activity kind (crm_workspace.data.schema.ACTIVITY_KINDS), with the kind's icon
START_BUTTONS = (
    ("call", "Log call"),
    ("email", "Log email"),
    ("meeting", "Log meeting"),
    ("note", "Add note"),
    ("task", "New task"),
)


class ActivityLogger(pn.viewable.Viewer):
    """Log a call/email/meeting/note in two clicks (kind, then Save); create a task.

    The form and its draft are built at the first click: most visits to a record log nothing.
    """

    workspace = param.ClassSelector(class_=Workspace)
    table = param.String(default="contacts")
    record_id = param.Integer()

    def __init__(self, **params: Any):
        super().__init__(**params)
        self.draft: ActivityDraft | None = None
        self.form = pn.Column(visible=False)
        buttons = []
        for kind, label in START_BUTTONS:
            button = pn.widgets.Button(label=label, icon=svg(ACTIVITY_ICONS[kind]), color="light")
            button.on_click(lambda _e, k=kind: self._start(k))
            buttons.append(button)
        # wrap onto a second line rather than run past the column's right edge
        self.buttons = pn.FlexBox(*buttons, flex_wrap="wrap", gap="4px", sizing_mode="stretch_width")

    def _build(self) -> None:
        draft = self.draft = ActivityDraft(workspace=self.workspace, table=self.table, record_id=self.record_id)
        self.subject = pn.widgets.TextInput.from_param(draft.param.subject, label="Subject", width=300)
        self.body = pn.widgets.TextAreaInput.from_param(draft.param.body, label="Notes", width=300, height=70)
        self.channel = pn.widgets.Select.from_param(draft.param.channel, label="Channel", width=120)
        self.due = pn.widgets.DatePicker.from_param(draft.param.due, label="Due date", width=140)
        self.owner = pn.widgets.Select.from_param(
            draft.param.owner, label="Owner", options=draft.owner_choices(), width=120
        )
        self.save = pn.widgets.Button(label="Save", color="primary")
        self.save.on_click(lambda _e: self._save())
        self.cancel = pn.widgets.Button(label="Cancel")
        self.cancel.on_click(lambda _e: setattr(self.form, "visible", False))
        self.error = pn.pane.Alert("", alert_type="danger", visible=False)
        self.form.objects = [
            pn.FlexBox(self.subject, self.channel, self.due, self.owner, flex_wrap="wrap", sizing_mode="stretch_width"),
            self.body,
            self.error,
            pn.Row(self.save, self.cancel),
        ]
        draft.param.watch(self._show_kind, "kind")
        draft.param.watch(self._show_error, "error")
        self._show_kind()

    def _start(self, kind: str) -> None:
        if self.draft is None:
            self._build()
        self.draft.start(kind)
        self.form.visible = True

    def _show_kind(self, *_events: Any) -> None:
        task = self.draft.kind == "task"
        self.due.visible = task
        self.owner.visible = task
        self.save.label = f"Save {self.draft.kind}"

    def _show_error(self, *_events: Any) -> None:
        self.error.param.update(object=E(self.draft.error), visible=bool(self.draft.error))

    def _save(self) -> None:
        if self.draft.save() is None:
            return
        self.form.visible = False
        notify(f"{self.draft.kind.capitalize()} logged", "success")

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self.buttons, self.form)


class MyTasks(pn.viewable.Viewer):
    """The acting user's open tasks due within a week, overdue ones first: tick some and mark them done,
    click one to open its contact or organization.

    One list (``ListTable``), not a row of widgets a task: at 100k contacts a user had 164 open
    tasks, a button each, 1,300 Bokeh models and a page ready in 3 s.
    """

    workspace = param.ClassSelector(class_=Workspace)

    def __init__(self, **params: Any):
        super().__init__(**params)
        locked = read_only(self.workspace)
        self.summary = pn.pane.Markdown("", margin=(0, 10))
        self.table = ListTable(
            selectable=not locked,
            row_key="id",  # ticks survive a refresh (another user's change)
            titles=TASK_TITLES,
            widths=TASK_WIDTHS,
            formatters={"due_at": day},
            cell_styles={"state": lambda state: "color:#b00020;font-weight:600" if state == "Overdue" else ""},
            hidden_columns=("id", "version", "contact_id", "organization_id"),
            page_size=50,
            sizing_mode="stretch_width",
            empty="Nothing due this week",
        )
        self.table.on_click(self._open)
        self.done = pn.widgets.Button(
            label="Mark done",
            color="success",
            width=120,
            disabled=locked,
            description=READ_ONLY_TIP if locked else "Mark the ticked tasks done",
        )
        self.done.on_click(lambda _e: self._mark_done())
        self.workspace.param.watch(self._refresh, "revision")
        self._refresh()

    def _refresh(self, *_events: Any) -> None:
        tasks = my_tasks(self.workspace)
        overdue, due = my_task_counts(self.workspace)
        frame = pd.DataFrame(
            [
                {
                    "subject": task["subject"] or "Task",
                    "with": task["contact"] or task["organization"] or "",
                    "due_at": task["due_at"],
                    "state": "Overdue" if task["overdue"] else "",
                    **{key: task[key] for key in ("id", "version", "contact_id", "organization_id")},
                }
                for task in tasks
            ],
            columns=["subject", "with", "due_at", "state", "id", "version", "contact_id", "organization_id"],
        )
        self.table.value = frame
        shown = "" if len(tasks) == overdue + due else f" · the first {len(tasks)} shown"
        self.summary.object = f"**{overdue:,}** overdue · **{due:,}** due in the next 7 days{shown}" if tasks else ""

    def _open(self, event: RowClick) -> None:
        frame = self.table.value
        if frame is None or not 0 <= event.row < len(frame):
            return
        task = frame.iloc[event.row]
        if pd.notna(task["contact_id"]):
            self.workspace.open_page("contacts", id=int(task["contact_id"]))
        elif pd.notna(task["organization_id"]):
            self.workspace.open_page("organizations", id=int(task["organization_id"]))

    def _mark_done(self) -> None:
        ticked = self.table.selected_dataframe
        if ticked.empty:
            notify("Tick the tasks to mark done first (the boxes on the left)", "warning")
            return
        try:
            mark_all_done(self.workspace, zip(ticked["id"].tolist(), ticked["version"].tolist(), strict=True))
        except ConflictError:
            self._refresh()  # the list as it is now; the ticks of the tasks still in it are kept
            notify("A ticked task was changed by someone else meanwhile: nothing was marked. Look and try again.")
            return
        except CrmError as error:
            notify(str(error))
            return
        self.table.selection = []
        notify(f"{len(ticked)} task{'s' if len(ticked) != 1 else ''} marked done", "success")

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            f"## My tasks ({E(self.workspace.user)})",
            pn.Row(self.done, pn.Column(self.summary, align="center")),
            self.table,
            sizing_mode="stretch_width",
        )


#: the task list's headings and widths
TASK_TITLES = {"subject": "Task", "with": "With", "due_at": "Due", "state": ""}
TASK_WIDTHS = {"subject": "44%", "with": "28%", "due_at": "16%", "state": "12%"}
