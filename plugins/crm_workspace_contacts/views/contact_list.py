"""The contact list: search as you type, filters, sort, paging in SQL, export, a new contact."""

from __future__ import annotations

from typing import Any

import pandas as pd
import panel as pn
import param

from crm_workspace import Workspace
from crm_workspace.web.display import label, when_html
from crm_workspace.web.icons import svg
from crm_workspace.web.list_table import ListTable

from ..queries import CONTACT_COLUMNS, CONTACT_SORTS, PAGE_SIZE
from ..state import ContactListModel
from .common import READ_ONLY_TIP, E, choices_with_any, read_only
from .listing import RecordListActions

#: column headings people read, and each column's share of the width (the table fills it, no sideways
#: scrolling at 1400 px; an email or an organization gets room to be read)
TITLES = {
    "id": "#",
    "first_name": "First name",
    "last_name": "Last name",
    "email": "Email",
    "phone": "Phone",
    "title": "Job title",
    "organization": "Organization",
    "stakeholder_type": "Type",
    "lifecycle_stage": "Stage",
    "owner": "Owner",
    "last_touched": "Last touched",
}
WIDTHS = {
    "id": "4%",
    "first_name": "7%",
    "last_name": "8%",
    "email": "20%",
    "phone": "10%",
    "title": "9%",
    "organization": "12%",
    "stakeholder_type": "7%",
    "lifecycle_stage": "9%",
    "owner": "6%",
    "last_touched": "8%",
}


class ContactListView(RecordListActions, pn.viewable.Viewer):
    """Contacts list: every filter widget is bound to a ``ContactListModel`` param."""

    workspace = param.ClassSelector(class_=Workspace)
    model = param.ClassSelector(class_=ContactListModel, doc="The list's state; made from the workspace.")

    def __init__(self, **params: Any):
        super().__init__(**params)
        if self.model is None:
            self.model = ContactListModel(workspace=self.workspace)
        model = self.model
        self.search = pn.widgets.TextInput.from_param(
            model.param.search,
            onkeyup=True,  # results follow the keystrokes
            label="Search",
            placeholder="name, email, phone, organization…",
            width=320,
        )
        self.type_w = pn.widgets.Select.from_param(
            model.param.stakeholder_type,
            label="Stakeholder type",
            options=choices_with_any(model.type_choices()),
            width=150,
        )
        self.stage_w = pn.widgets.Select.from_param(
            model.param.lifecycle_stage,
            label="Lifecycle stage",
            options=choices_with_any(model.stage_choices()),
            width=160,
        )
        self.owner_w = pn.widgets.Select.from_param(
            model.param.owner, label="Owner", options=choices_with_any(model.owner_choices()), width=110
        )
        self.tag_w = pn.widgets.Select.from_param(
            model.param.tag, label="Tag", options=choices_with_any(model.tag_choices()), width=130
        )
        self.after_w = pn.widgets.DatePicker.from_param(model.param.touched_after, label="Touched after", width=130)
        self.before_w = pn.widgets.DatePicker.from_param(
            model.param.touched_before, label="Not touched since", width=130
        )
        self.sort_w = pn.widgets.Select.from_param(
            model.param.sort,
            label="Sort by",
            options={"relevance / last name": "", **{k: k for k in CONTACT_SORTS}},
            width=150,
        )
        self.desc_w = pn.widgets.Checkbox.from_param(model.param.descending, label="descending")
        self.prev = pn.widgets.Button(label="◀ Previous", width=110)
        self.next = pn.widgets.Button(label="Next ▶", width=110)
        self.prev.on_click(lambda _e: model.previous_page())
        self.next.on_click(lambda _e: model.next_page())
        self.new = pn.widgets.Button(label="New contact", icon=svg("plus"), color="primary", width=140)
        self.new.on_click(lambda _e: self._show_form())
        if read_only(self.workspace):  # a viewer: no form that would fail on save
            self.new.param.update(disabled=True, description=READ_ONLY_TIP)
        self.export = pn.widgets.FileDownload(
            callback=self._export, filename="contacts.xlsx", label="⬇ Export to Excel", color="light", width=160
        )
        self.form_area = pn.Column()
        self.table = ListTable(
            pd.DataFrame(columns=CONTACT_COLUMNS),
            sizing_mode="stretch_width",
            titles=TITLES,
            widths=WIDTHS,
            formatters={"last_touched": "html"},  # "3 days ago", the exact time on hover
            height=560,
            empty="No contacts match",
        )
        self.table.on_click(self._open)
        self.status = pn.pane.Markdown("")
        self.org_chip = pn.Column()  # empty, it takes no room (a ParamMethod showing None leaves a gap)
        model.param.watch(self._show, ["rows", "total", "error"])
        model.param.watch(self._show_org_chip, "organization_id")
        model.load()

    def set_organization(self, org_id: int | None) -> None:
        """Narrow the list to one organization's people (None: everyone)."""
        self.model.organization_id = org_id

    def refresh(self) -> None:
        self.model.load()

    def _show(self, *_events: Any) -> None:
        model = self.model
        if model.error:
            self.status.object = E(model.error)
            return
        rows = model.rows
        frame = pd.DataFrame(rows, columns=CONTACT_COLUMNS)
        # "3 days ago" with the exact time on hover; as text the <time> sorts by its ISO datetime attribute
        frame["last_touched"] = [when_html(t) for t in frame["last_touched"]]
        for column in ("lifecycle_stage", "stakeholder_type"):  # words, not stored keys ("Sales qualified")
            frame[column] = frame[column].map(label)
        self.table.value = frame
        first = model.page * PAGE_SIZE
        self.status.object = f"**{model.summary('contacts')}** — showing {first + 1 if rows else 0}–{first + len(rows)}"
        self.prev.disabled = not model.has_previous
        self.next.disabled = not model.has_next

    def _show_org_chip(self, *_events: Any) -> None:
        name = self.model.organization_name()
        if not name:
            self.org_chip.objects = []
            return
        clear = pn.widgets.Button(label=f"Organization: {name} ✕", color="light")
        clear.on_click(lambda _e: self.set_organization(None))
        self.org_chip.objects = [clear]

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.Row(pn.pane.Markdown("## Contacts"), self.new, self.export),
            self.form_area,
            pn.Row(self.search, self.sort_w, self.desc_w),
            pn.Row(self.type_w, self.stage_w, self.owner_w, self.tag_w, self.after_w, self.before_w),
            self.org_chip,
            self.status,
            self.table,
            pn.Row(self.prev, self.next),
            sizing_mode="stretch_width",
        )
