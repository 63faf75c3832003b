"""The queue: views and filters bound to the model, one keyset page, bulk assign and status."""

from __future__ import annotations

from typing import Any

import pandas as pd
import panel as pn
import param

from crm_workspace import Workspace
from crm_workspace.errors import CrmError
from crm_workspace.web.deferred import after_ready
from crm_workspace.web.list_table import ListTable

from ..model import QUEUE_COLUMNS, QueueModel
from ..queue import VIEWS, Filters, save_view
from ..schema import STATUSES
from ..tickets import bulk_update
from .common import READ_ONLY_TIP, choices_with_any, notify, read_only

SLA_STYLES = {
    "breached": "color: #b42318; font-weight: 600",
    "soon": "color: #8a5300; font-weight: 600",
    "paused": "color: #5f6b7a",
}


def sla_style(value) -> str:
    """The SLA cell's colour: red when breached, amber when breaching soon."""
    return SLA_STYLES.get(value, "")


#: each column's share of the width: a requester or an organization gets room to be read at 1400 px;
#: 94% in all, the rest for the tick boxes' column (no sideways scrolling down to a tablet's width)
QUEUE_WIDTHS = {
    "sla": "7%",
    "id": "4%",
    "subject": "20%",
    "requester": "12%",
    "organization": "13%",
    "status": "6%",
    "priority": "7%",
    "assignee": "7%",
    "team": "7%",
    "due": "11%",
}


class QueueView(pn.viewable.Viewer):
    workspace = param.ClassSelector(class_=Workspace)
    model = param.ClassSelector(class_=QueueModel)

    def __init__(self, **params: Any):
        if params.get("model") is None:
            params["model"] = QueueModel(workspace=params["workspace"])
        super().__init__(**params)
        m = self.model
        self._cursor = None
        self.view_select = pn.widgets.Select.from_param(
            m.param.view,
            description=None,
            label="View",
            options={label: key for key, label in VIEWS.items()},
            width=200,
        )
        self.team = pn.widgets.Select.from_param(
            m.param.team, description=None, label="Team", options=choices_with_any(m.teams()), width=130
        )
        self.assignee = pn.widgets.Select.from_param(
            m.param.assignee, description=None, label="Assignee", options=choices_with_any(m.agents()), width=130
        )
        self.priority = pn.widgets.Select.from_param(
            m.param.priority,
            description=None,
            label="Priority",
            options={"(any)": "", **{p: p for p in ("urgent", "high", "normal", "low")}},
            width=110,
        )
        self.search = pn.widgets.TextInput.from_param(
            m.param.text, description=None, label="Search", placeholder="subject or #id", width=180
        )
        self.saved = pn.widgets.Select(label="Saved views", options=self._saved_options(), width=180)
        self.saved.param.watch(self._apply_saved, "value")
        self.save_name = pn.widgets.TextInput(
            label="Save these filters as", placeholder="e.g. Billing urgent", width=180
        )
        self.save_button = pn.widgets.Button(label="Save view", width=100, align="end")
        self.save_button.on_click(self._save)
        self.table = ListTable(
            pd.DataFrame(columns=list(QUEUE_COLUMNS)),
            selectable=True,
            sizing_mode="stretch_width",
            titles=QUEUE_COLUMNS,
            widths=QUEUE_WIDTHS,
            formatters={"due": "html"},  # humanised, sorted by the time (QueueModel.rows)
            cell_styles={"sla": sla_style},
            row_key="id",  # ticks survive a refresh (another agent's change, the SLA clock)
            css_classes=["svc-queue"],
            height=560,
            empty="No tickets match these filters",
        )
        self.table.on_click(self._open)
        self.prev_button = pn.widgets.Button(label="◀ Previous", width=110)
        self.next_button = pn.widgets.Button(label="Next ▶", width=110)
        self.prev_button.on_click(lambda _e: m.previous_page())
        self.next_button.on_click(lambda _e: m.next_page(self._cursor))
        self.info = pn.pane.Markdown("", margin=(8, 10))
        locked = read_only(self.workspace)
        self.bulk_assignee = pn.widgets.Select(
            label="Assign selected to",
            options={"(nobody)": "", **{a: a for a in m.agents()}},
            width=150,
            disabled=locked,
        )
        self.bulk_assign = pn.widgets.Button(
            label="Assign", width=90, align="end", disabled=locked, description=READ_ONLY_TIP if locked else None
        )
        self.bulk_status = pn.widgets.Select(
            label="Set status of selected", options=list(STATUSES), value="open", width=150, disabled=locked
        )
        self.bulk_set = pn.widgets.Button(
            label="Set status", width=100, align="end", disabled=locked, description=READ_ONLY_TIP if locked else None
        )
        self.bulk_assign.on_click(lambda _e: self._bulk({"assignee": self.bulk_assignee.value or None}))
        self.bulk_set.on_click(lambda _e: self._bulk({"status": self.bulk_status.value}))
        m.param.watch(self._refresh, ["view", "team", "assignee", "priority", "text", "cursors"])
        self.workspace.param.watch(self._refresh, "revision")
        self._refresh()

    def _saved_options(self) -> dict[str, str]:
        return {
            "(choose)": "",
            **{v["name"] + ("" if v["owner"] else " (shared)"): v["filters"] for v in self.model.saved()},
        }

    def _apply_saved(self, event) -> None:
        if event.new:
            self.model.apply_saved(event.new)

    def _save(self, _event=None) -> None:
        try:
            save_view(self.workspace, self.save_name.value, self.model.filters())
        except CrmError as error:
            notify("error", str(error))
            return
        self.saved.options = self._saved_options()
        self.save_name.value = ""
        notify("success", "View saved")

    def _refresh(self, *_events) -> None:
        try:
            frame, cursor = self.model.rows()
            total = self.model.total()
        except CrmError as error:
            notify("error", str(error))
            return
        self._cursor = cursor
        self.table.value = frame
        start = len(self.model.cursors) * self.model.page_size
        shown = f"{start + 1:,}–{start + len(frame):,}" if len(frame) else "0"
        self.info.object = f"**{total:,}** tickets · showing {shown}"
        self.prev_button.disabled = not self.model.cursors
        self.next_button.disabled = cursor is None

    def _open(self, event) -> None:
        frame = self.table.value  # the rows shown: ListTable reports a row of them
        if frame is None or event.row is None or event.row >= len(frame):
            return
        self.workspace.open_page("service", id=int(frame.iloc[event.row]["id"]))

    def _bulk(self, changes: dict) -> None:
        ids = [int(i) for i in self.table.selected_dataframe.get("id", [])]
        if not ids:
            notify("warning", "Select tickets first (the boxes on the left)")
            return
        try:
            bulk_update(self.workspace, ids, changes)
        except CrmError as error:
            notify("error", str(error))
            return
        self.table.selection = []  # done: the next change starts from no ticks
        notify("success", f"{len(ids)} tickets updated")

    def current_filters(self) -> Filters:
        return self.model.filters()

    def __panel__(self):
        from .new_ticket import NewTicket

        return pn.Column(
            NewTicket(workspace=self.workspace),
            pn.Row(self.view_select, self.saved, self.team, self.assignee, self.priority, self.search),
            pn.Row(self.info, self.prev_button, self.next_button),
            self.table,
            after_ready(  # under the table, below the first screen: built once the page is shown
                lambda: pn.Row(
                    self.bulk_assignee,
                    self.bulk_assign,
                    self.bulk_status,
                    self.bulk_set,
                    pn.Spacer(width=30),
                    self.save_name,
                    self.save_button,
                ),
                min_height=60,
                sizing_mode="stretch_width",
            ),
            sizing_mode="stretch_width",
        )
