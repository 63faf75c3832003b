"""Help-desk setup on the page: calendars (hours, split shifts, holidays), SLA targets, macros."""

from __future__ import annotations

import json

import pandas as pd
import panel as pn
import param

from crm_workspace import Workspace
from crm_workspace.errors import CrmError
from crm_workspace.web.list_table import ListTable
from crm_workspace.web.tables import Table

from .. import setup
from .common import READ_ONLY_TIP, notify, read_only


class SettingsView(pn.viewable.Viewer):
    workspace = param.ClassSelector(class_=Workspace)

    def __init__(self, **params):
        super().__init__(**params)
        locked = read_only(self.workspace)
        tip = READ_ONLY_TIP if locked else None
        cals = setup.calendars(self.workspace)
        self.calendar = pn.widgets.Select(label="Calendar", options={c["name"]: c["id"] for c in cals}, width=200)
        self.cal_name = pn.widgets.TextInput(label="Name", width=200, disabled=locked)
        self.cal_tz = pn.widgets.TextInput(label="Time zone", width=200, disabled=locked)
        self.cal_hours = pn.widgets.TextAreaInput(
            label="Working hours (JSON, split shifts allowed)", height=120, width=520, disabled=locked
        )
        self.cal_holidays = pn.widgets.TextAreaInput(
            label="Holidays (one date per line)", height=120, width=220, disabled=locked
        )
        self.cal_save = pn.widgets.Button(
            label="Save calendar", color="primary", width=140, disabled=locked, description=tip
        )
        self.calendar.param.watch(lambda _e: self._load_calendar(), "value")
        self.cal_save.on_click(self._save_calendar)
        self.policies = Table(
            pd.DataFrame(setup.policies(self.workspace)), show_index=False, disabled=locked, sizing_mode="stretch_width"
        )
        self.pol_save = pn.widgets.Button(
            label="Save targets", color="primary", width=140, disabled=locked, description=tip
        )
        self.pol_save.on_click(self._save_policies)
        self.macro_name = pn.widgets.TextInput(label="New macro", placeholder="Name", width=200, disabled=locked)
        self.macro_body = pn.widgets.TextAreaInput(
            label="Text",
            placeholder='Hi {{ first_name | default("there") }}, ...',
            height=100,
            width=520,
            disabled=locked,
        )
        self.macro_status = pn.widgets.Select(
            label="Then set status",
            options={"(keep)": "", "pending": "pending", "solved": "solved"},
            width=140,
            disabled=locked,
        )
        self.macro_add = pn.widgets.Button(label="Add macro", width=120, disabled=locked, description=tip)
        self.macro_add.on_click(self._add_macro)
        self.macro_list = ListTable(
            pd.DataFrame(setup.macros(self.workspace)),
            sizing_mode="stretch_width",
            height=200,
        )
        self._load_calendar()

    def _load_calendar(self) -> None:
        row = next((c for c in setup.calendars(self.workspace) if c["id"] == self.calendar.value), None)
        if row:
            self.cal_name.value, self.cal_tz.value = row["name"], row["tz"]
            self.cal_hours.value = json.dumps(json.loads(row["hours"] or "{}"), indent=1)
            self.cal_holidays.value = "\n".join(json.loads(row["holidays"] or "[]"))

    def _save_calendar(self, _event=None) -> None:
        try:
            setup.save_calendar(
                self.workspace,
                self.calendar.value,
                name=self.cal_name.value,
                tz=self.cal_tz.value,
                hours=self.cal_hours.value,
                holidays=self.cal_holidays.value,
            )
        except (CrmError, ValueError) as error:
            notify("error", str(error))
            return
        notify("success", "Calendar saved; open tickets' SLA due times follow it")

    def _save_policies(self, _event=None) -> None:
        try:
            setup.save_policies(self.workspace, self.policies.value.to_dict("records"))
        except (CrmError, ValueError) as error:
            notify("error", str(error))
            return
        notify("success", "SLA targets saved")

    def _add_macro(self, _event=None) -> None:
        try:
            setup.add_macro(
                self.workspace,
                name=self.macro_name.value,
                body=self.macro_body.value,
                set_status=self.macro_status.value or None,
            )
        except CrmError as error:
            notify("error", str(error))
            return
        self.macro_list.value = pd.DataFrame(setup.macros(self.workspace))
        self.macro_name.value = self.macro_body.value = ""
        notify("success", "Macro added")

    def __panel__(self):
        return pn.Column(
            "#### Business calendars",
            pn.Row(self.calendar, self.cal_name, self.cal_tz),
            pn.Row(self.cal_hours, self.cal_holidays),
            self.cal_save,
            "#### SLA policies (targets in business minutes)",
            self.policies,
            self.pol_save,
            "#### Macros and canned replies",
            self.macro_list,
            pn.Row(self.macro_name, self.macro_status),
            self.macro_body,
            self.macro_add,
            sizing_mode="stretch_width",
        )
