"""The Calendar page: upcoming meetings, the user's feed address, and an .ics import."""

from __future__ import annotations

import html

import panel as pn
import param

from crm_workspace import Workspace
from crm_workspace.web.display import html_table

from .model import CalendarModel


def _table(rows: list[dict], columns: list[tuple[str, str]], empty: str) -> pn.pane.HTML:
    """Rows as the core's escaped table: times as "in 2 days" with the exact time on hover."""
    return pn.pane.HTML(html_table(rows, columns, empty=empty), sizing_mode="stretch_width")


class CalendarPage(pn.viewable.Viewer):
    workspace = param.ClassSelector(class_=Workspace)

    def __init__(self, **params):
        super().__init__(**params)
        self.model = CalendarModel(workspace=self.workspace)
        read_only = self.workspace.read_only
        self._upload = pn.widgets.FileInput(accept=".ics,.ical,.eml", disabled=read_only)
        self._import = pn.widgets.Button(label="Import meetings", color="primary", disabled=read_only)
        self._import.on_click(lambda _e: self.model.import_file(self._upload.value, self._upload.filename))
        self._make = pn.widgets.Button(label="New feed address", color="primary", disabled=read_only)
        self._make.on_click(lambda _e: self.model.make_feed())
        self._revoke = pn.widgets.Button(label="Revoke", color="danger", disabled=read_only)
        self._revoke.on_click(lambda _e: self.model.revoke())
        if read_only:
            for button in (self._import, self._make, self._revoke):
                button.description = "Read-only: you may not change anything"

    @param.depends("model.days", "model.mine", "workspace.revision")
    def _meetings(self):
        rows = self.model.meetings()
        return _table(
            rows,
            [
                ("starts_at", "Starts"),
                ("subject", "Meeting"),
                ("contact", "Contact"),
                ("organization", "Organization"),
                ("owner", "Owner"),
            ],
            "No meetings in this period.",
        )

    @param.depends("model.feed_user", "model.feed_link", "workspace.revision")
    def _feeds(self):
        parts = []
        if self.model.feed_link:
            parts.append(
                pn.widgets.TextInput(
                    value=self.model.feed_link,
                    label="Feed address (shown once)",
                    disabled=False,
                    sizing_mode="stretch_width",
                )
            )
        rows = self.model.feed_rows()
        parts.append(
            _table(
                rows,
                [("user", "User"), ("created_at", "Made"), ("created_by", "By"), ("revoked_at", "Revoked")],
                "No feed yet.",
            )
        )
        return pn.Column(*parts, sizing_mode="stretch_width")

    @param.depends("model.message", "model.failed")
    def _message(self):
        if not self.model.message:
            return pn.Spacer(height=0)
        text = html.escape(self.model.message).replace("\n", "<br>")
        return pn.pane.Alert(text, alert_type="danger" if self.model.failed else "success", sizing_mode="stretch_width")

    def __panel__(self):
        model = self.model
        who = pn.widgets.Select.from_param(
            model.param.feed_user, options=model.users(), width=200, disabled=not model.is_admin()
        )
        return pn.Column(
            "## Calendar",
            self._message,
            "### Upcoming meetings",
            pn.Row(
                pn.widgets.IntInput.from_param(model.param.days, width=120),
                pn.widgets.Checkbox.from_param(model.param.mine),
            ),
            self._meetings,
            "### Calendar feed",
            pn.pane.Markdown(
                "Subscribe to your tasks and meetings in Google Calendar, Apple Calendar or Outlook "
                "(*add calendar from URL*). The address is a secret: anyone who has it sees your calendar; "
                "make a new one (the old stops working) or revoke it whenever you like."
            ),
            pn.Row(who, self._make, self._revoke),
            self._feeds,
            "### Import meetings",
            pn.pane.Markdown(
                "An `.ics` file or an invitation e-mail (`.eml`): each meeting is logged on the attendees' "
                "contacts (matched by e-mail; unknown attendees are listed, not created). Importing twice logs once."
            ),
            pn.Row(self._upload, self._import),
            sizing_mode="stretch_width",
        )
