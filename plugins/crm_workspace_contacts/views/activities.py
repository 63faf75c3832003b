"""Activities: log a call/email/meeting/note on a record in two clicks; the "My tasks" page."""

from __future__ import annotations

from typing import Any

import panel as pn
import param

from crm_workspace import CrmError, Workspace
from crm_workspace.web.display import day

from ..drafts import ActivityDraft
from ..records import mark_done, my_tasks
from .common import E, notify

#: one button per activity kind (crm_workspace.data.schema.ACTIVITY_KINDS)
START_BUTTONS = (
    ("call", "📞 Log call"),
    ("email", "✉️ Log email"),
    ("meeting", "🤝 Log meeting"),
    ("note", "📝 Add note"),
    ("task", "✅ New task"),
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
            button = pn.widgets.Button(label=label, color="light")
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
    """Due and overdue tasks of the acting user, with mark-done."""

    workspace = param.ClassSelector(class_=Workspace)

    @param.depends("workspace.revision")
    def _tasks(self) -> pn.viewable.Viewable:
        tasks = my_tasks(self.workspace)
        if not tasks:
            return pn.pane.Markdown("Nothing due. 🎉")
        rows = []
        for task in tasks:
            when = day(task["due_at"])
            label = "<span style='color:#b00020'>overdue</span>" if task["overdue"] else "due"
            who = task["contact"] or task["organization"] or ""
            done = pn.widgets.Button(label="Mark done", color="success", width=110)
            done.on_click(lambda _e, t=task: self._done(t))
            rows.append(
                pn.Row(
                    pn.pane.HTML(f"<b>{E(task['subject'] or 'Task')}</b> — {E(who)} · {label} {E(when)}", width=520),
                    done,
                )
            )
        return pn.Column(*rows)

    def _done(self, task: dict) -> None:
        try:
            mark_done(self.workspace, task["id"], task["version"])
        except CrmError as error:
            notify(str(error))

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(f"## My tasks ({E(self.workspace.user)})", self._tasks, sizing_mode="stretch_width")
