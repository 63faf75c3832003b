"""The "organizations" page: search, filters, sort, paging in SQL, export, a new organization."""

from __future__ import annotations

from typing import Any

import pandas as pd
import panel as pn
import param

from crm_workspace import Workspace
from crm_workspace.web.icons import svg
from crm_workspace.web.list_table import ListTable

from ..queries import ORG_COLUMNS
from ..state import OrganizationListModel
from .common import READ_ONLY_TIP, E, choices_with_any, read_only
from .listing import RecordListActions
from .record import OrganizationRecord, record_or_not_found


class OrganizationsPage(RecordListActions, pn.viewable.Viewer):
    """Organizations list: every filter widget is bound to an ``OrganizationListModel`` param.

    Routes on ``workspace.page_args``: ``id`` opens that organization's record
    (``?page=organizations&id=3``), so the menu highlights Organizations there.
    """

    record_table = "organizations"
    new_title = "New organization"
    workspace = param.ClassSelector(class_=Workspace)
    model = param.ClassSelector(class_=OrganizationListModel, doc="The list's state; made from the workspace.")

    def __init__(self, **params: Any):
        super().__init__(**params)
        if self.model is None:
            self.model = OrganizationListModel(workspace=self.workspace)
        model = self.model
        self.search = pn.widgets.TextInput.from_param(
            model.param.search, onkeyup=True, label="Search", placeholder="name, domain, city…", width=300
        )
        self.industry = pn.widgets.Select.from_param(
            model.param.industry, label="Industry", options=choices_with_any(model.industry_choices()), width=160
        )
        self.owner = pn.widgets.Select.from_param(
            model.param.owner, label="Owner", options=choices_with_any(model.owner_choices()), width=120
        )
        self.sort = pn.widgets.Select.from_param(model.param.sort, label="Sort by", width=120)
        self.desc = pn.widgets.Checkbox.from_param(model.param.descending, label="descending")
        self.table = ListTable(
            pd.DataFrame(columns=ORG_COLUMNS),
            sizing_mode="stretch_width",
            height=520,
            empty="No organizations match",
        )
        self.table.on_click(self._open)
        self.status = pn.pane.Markdown()
        self.new = pn.widgets.Button(label="New organization", icon=svg("plus"), color="primary", width=170)
        self.new.on_click(lambda _e: self._show_form())
        if read_only(self.workspace):  # a viewer: no form that would fail on save
            self.new.param.update(disabled=True, description=READ_ONLY_TIP)
        self.form_area = pn.Column()
        self.prev = pn.widgets.Button(label="◀ Previous", width=110)
        self.next = pn.widgets.Button(label="Next ▶", width=110)
        self.prev.on_click(lambda _e: model.previous_page())
        self.next.on_click(lambda _e: model.next_page())
        self.export = pn.widgets.FileDownload(
            callback=self._export, filename="organizations.xlsx", label="⬇ Export to Excel", width=160
        )
        model.param.watch(self._show, ["rows", "total", "error"])
        model.load()
        self.body = pn.Column(sizing_mode="stretch_width")
        self._seen: object = None
        self.workspace.param.watch(self._route, ["page", "page_args"])
        self._route()

    def _route(self, *events: Any) -> None:
        if events and self.workspace.page != "organizations":
            return  # another page's arguments: not ours
        record_id = (self.workspace.page_args or {}).get("id")
        if record_id == self._seen and self.body.objects:
            return
        self._seen = record_id
        if record_id is None:
            self.body.objects = [self._list_layout()]
        else:
            self.body.objects = [
                record_or_not_found(self.workspace, OrganizationRecord, record_id, "organizations", "◀ Organizations")
            ]

    def refresh(self) -> None:
        self.model.load()

    def _show(self, *_events: Any) -> None:
        model = self.model
        if model.error:
            self.status.object = E(model.error)
            return
        self.table.value = pd.DataFrame(model.rows, columns=ORG_COLUMNS)
        self.status.object = f"**{model.summary('organizations')}** — page {model.page + 1}"
        self.prev.disabled = not model.has_previous
        self.next.disabled = not model.has_next

    def __panel__(self) -> pn.viewable.Viewable:
        return self.body

    def _list_layout(self) -> pn.viewable.Viewable:
        if getattr(self, "_list", None) is not None:
            return self._list
        self._list = pn.Column(
            pn.Row(pn.pane.Markdown("## Organizations"), self.new, self.export),
            self.form_area,
            pn.Row(self.search, self.industry, self.owner, self.sort, self.desc),
            self.status,
            self.table,
            pn.Row(self.prev, self.next),
            sizing_mode="stretch_width",
        )
        return self._list
