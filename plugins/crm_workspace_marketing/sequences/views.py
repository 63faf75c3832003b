"""The Sequences page: each sequence's steps with who is where and what is due, an editor, the ledger.

Read-only for viewers (no editor, no buttons that write). Queries live in ``model``/``data``.
"""

from __future__ import annotations

import html

import pandas as pd
import panel as pn
import param

from crm_workspace import CrmError, Workspace
from crm_workspace.web.deferred import after_ready
from crm_workspace.web.display import ago, label
from crm_workspace.web.list_table import ListTable
from crm_workspace.web.tables import Table

from ..views.common import table
from . import data, model
from .editor import COLUMNS, from_rows, to_rows

TIP = "Viewers cannot change sequences: ask an admin or a member."
#: The health figures: one HTML pane (six indicator components were six models for the browser to draw).
HEALTH_CSS = """
.sq-health {display: flex; flex-wrap: wrap; gap: 8px 28px; margin: 4px 0 8px;}
.sq-health div {min-width: 120px;}
.sq-health .label {color: #5f6b7a; font-size: 13px;}
.sq-health .value {color: #333; font-size: 18px;}
"""


def _alert(text: str, kind: str = "danger") -> pn.pane.Alert:
    return pn.pane.Alert(html.escape(str(text)), alert_type=kind, margin=(5, 0))


def _table(frame: pd.DataFrame, **options) -> ListTable:
    """Labelled headers, humanised times with the exact one on hover, wide step text."""
    return table(frame, **options)


class SequencesPage(pn.viewable.Viewer):
    workspace = param.ClassSelector(class_=Workspace)
    selected = param.String(default="", doc="The sequence whose steps are shown and edited.")

    def __init__(self, **params):
        super().__init__(**params)
        ws, ro = self.workspace, self.workspace.read_only
        listed = model.list_sequences(ws)
        names = [r["name"] for r in listed]
        busiest = max(listed, key=lambda r: (r["status"] == "active", r["active"]), default=None)
        first = self.selected or (busiest["name"] if busiest else "")
        self.picker = pn.widgets.Select(label="Sequence", options=names, value=first or None, width=260)
        self.picker.param.watch(lambda e: setattr(self, "selected", e.new or ""), "value")
        self.message = pn.Column(sizing_mode="stretch_width")
        self.title_input = pn.widgets.TextInput(label="Name", width=240, disabled=ro)
        self.trigger = pn.widgets.Select(label="Trigger", options=list(model.TRIGGERS), width=180, disabled=ro)
        self.trigger_value = pn.widgets.TextInput(
            label="…which (stage, tag, form address or segment)", width=280, disabled=ro
        )
        exits = [*model.EXITS, *(f"stage:{s}" for s in ws.lifecycle_stages())]
        self.exits = pn.widgets.MultiChoice(label="Exit when", options=exits, width=420, disabled=ro)
        self.steps = Table(
            pd.DataFrame(columns=COLUMNS),
            show_index=False,
            disabled=ro,
            editors={
                "kind": {"type": "list", "values": list(model.STEP_KINDS)},
                "on": {"type": "list", "values": ["", "opened", "clicked"]},
            },
            sizing_mode="stretch_width",
            height=240,
        )
        self.add = pn.widgets.Button(label="Add step", disabled=ro, width=110, description=TIP if ro else None)
        self.remove = pn.widgets.Button(label="Remove last step", disabled=ro, width=150)
        self.save = pn.widgets.Button(label="Save sequence", color="primary", disabled=ro, width=150)
        self.new = pn.widgets.Button(label="New sequence", disabled=ro, width=130)
        self.toggle = pn.widgets.Button(label="Pause / resume", disabled=ro, width=140)
        self.run = pn.widgets.Button(label="Run due steps now", disabled=ro, width=160)
        self.add.on_click(self._add)
        self.remove.on_click(self._remove)
        self.save.on_click(self._save)
        self.new.on_click(self._new)
        self.toggle.on_click(self._toggle)
        self.run.on_click(self._run)
        if first:
            self.selected = first  # loads it into the editor

    # ------------------------------------------------------------ editing
    @param.depends("selected", watch=True)
    def _load(self) -> None:
        if not self.selected:
            return
        try:
            row = model.get_sequence(self.workspace, self.selected)
        except CrmError as error:
            self.message[:] = [_alert(str(error))]
            return
        self.title_input.value = row["name"]
        self.trigger.value = row["trigger_kind"]
        self.trigger_value.value = str(next(iter(row["trigger"].values()), "") or "")
        self.exits.value = [e for e in row["exits"] if e in self.exits.options]
        self.steps.value = pd.DataFrame(to_rows(row["steps"]), columns=COLUMNS)

    def _add(self, _event=None) -> None:
        row = pd.DataFrame([dict.fromkeys(COLUMNS, "") | {"kind": "wait", "days": 1}], columns=COLUMNS)
        self.steps.value = pd.concat([self.steps.value, row], ignore_index=True)

    def _remove(self, _event=None) -> None:
        self.steps.value = self.steps.value.iloc[:-1]

    def _new(self, _event=None) -> None:
        self.selected = ""
        self.title_input.value = ""
        self.exits.value = ["replied", "became_customer", "unsubscribed"]
        self.steps.value = pd.DataFrame(columns=COLUMNS)

    def _save(self, _event=None) -> None:
        key = {"lifecycle_stage": "stage", "tag_added": "tag", "form_submitted": "form"}.get(
            self.trigger.value, "segment"
        )
        fields = {
            "name": self.title_input.value.strip(),
            "trigger_kind": self.trigger.value,
            "trigger_args": {key: self.trigger_value.value.strip()},
            "exit_on": list(self.exits.value),
        }
        rows = self.steps.value.fillna("").to_dict("records")
        try:
            existing = model.get_sequence(self.workspace, self.selected)["id"] if self.selected else None
            row = model.save_sequence(self.workspace, fields, from_rows(rows), existing)
        except CrmError as error:
            self.message[:] = [_alert(str(error))]
            return
        self.picker.options = [r["name"] for r in model.list_sequences(self.workspace)]
        self.picker.value = row["name"]
        self.message[:] = [_alert(f"Saved '{row['name']}' with {len(row['steps'])} step(s).", "success")]
        self.workspace.changed()

    def _toggle(self, _event=None) -> None:
        if not self.selected:
            return
        row = model.get_sequence(self.workspace, self.selected)
        status = "paused" if row["status"] == "active" else "active"
        model.set_status(self.workspace, row["id"], status)
        self.message[:] = [_alert(f"'{row['name']}' is {status}.", "success")]
        self.workspace.changed()

    def _run(self, _event=None) -> None:
        from .runner import run

        report = run(self.workspace, limit=200)
        text = (
            f"Ran {report['claimed']} due: {report['steps']} step(s), {report['emails']} e-mail(s) queued, "
            f"{report['sent']} sent, {report['exited']} exited, {report['retrying']} to retry, {report['failed']} failed."
        )
        self.message[:] = [_alert(text + (f" Stopped: {report['stopped']}" if report["stopped"] else ""), "info")]
        self.workspace.changed()

    # ------------------------------------------------------------ showing
    def _health(self, _revision=None):
        h = data.health(self.workspace)
        items = [
            ("Due now (backlog)", h["due_now"]),
            ("People in sequences", h["active"]),
            ("Steps in the last hour", h["steps_last_hour"]),
            ("Last run", ago(h["last_run"]) or "never"),
            ("Failures", h["failures"]),
            ("E-mail queued / failed", f"{h['mail_queued']} / {h['mail_failed']}"),
        ]
        cells = "".join(
            f'<div><div class="label">{html.escape(k)}</div><div class="value">{html.escape(str(v))}</div></div>'
            for k, v in items
        )
        return pn.pane.HTML(
            f'<div class="sq-health">{cells}</div>', stylesheets=[HEALTH_CSS], sizing_mode="stretch_width"
        )

    def _overview(self, _revision=None):
        frame = pd.DataFrame(model.list_sequences(self.workspace), columns=model.LIST_COLUMNS)
        return _table(frame, height=180) if len(frame) else _alert("No sequences yet: make one below.", "info")

    def _step_counts(self, _revision=None, _selected=None):
        if not self.selected:
            return pn.pane.Markdown("")
        try:
            row = model.get_sequence(self.workspace, self.selected)
        except CrmError as error:
            return _alert(str(error))
        frame = pd.DataFrame(model.step_counts(self.workspace, row["id"]))
        columns = ["position", "step", "waiting_here", "due_now", "next_due", "done", "failures"]
        title = (
            f"**{html.escape(row['name'])}** ({row['status']}): when "
            f"{html.escape(model.describe_trigger(row['trigger_kind'], row['trigger']))}; "
            f"exits: {html.escape(', '.join(label(e) for e in row['exits']) or 'none')}"
        )
        return pn.Column(pn.pane.Markdown(title), _table(frame.reindex(columns=columns), height=220))

    def _ledger(self, _revision=None):
        frame = pd.DataFrame(data.runs(self.workspace, limit=200))
        failures = pd.DataFrame(data.runs(self.workspace, failures_only=True, limit=100))
        return pn.Tabs(
            ("Run ledger", _table(frame, height=260, page_size=50)),
            ("Failures", _table(failures, height=260) if len(failures) else _alert("No failures.", "success")),
            sizing_mode="stretch_width",
        )

    def __panel__(self):
        ro = self.workspace.read_only
        rev = self.workspace.param.revision
        editor = pn.Card(
            pn.Row(self.title_input, self.trigger, self.trigger_value),
            self.exits,
            self.steps,
            pn.pane.Markdown(
                "Steps count from 0. *wait*: days/hours; *email*: subject, html and/or text with merge fields "
                "like `{{ first_name | default('there') }}`; *task*: title, days until due; *set_field*: field, "
                "value; *set_stage*: stage; *branch*: on opened/clicked within *days*, go to *yes* or *no*. "
                "*then*: the step to go to next (one past the last ends).",
            ),
            pn.Row(self.add, self.remove, self.save, self.new),
            title="Edit sequence",
            collapsed=False,
            sizing_mode="stretch_width",
        )
        return pn.Column(
            "## Sequences" + (" (read only)" if ro else ""),
            pn.bind(self._health, rev),
            pn.bind(self._overview, rev),
            pn.Row(self.picker, *([] if ro else [self.toggle, self.run])),
            self.message,
            pn.bind(self._step_counts, rev, self.param.selected),
            # below the first screen: built once the page is shown (crm_workspace/web/deferred.py)
            *([] if ro else [after_ready(lambda: editor, min_height=400, sizing_mode="stretch_width")]),
            after_ready(lambda: pn.panel(pn.bind(self._ledger, rev)), min_height=320, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )
