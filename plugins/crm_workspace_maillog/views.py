"""The Mail log page: what the logging mailbox filed, and the addresses waiting for a person."""

from __future__ import annotations

import html

import panel as pn
import param

from crm_workspace import Workspace
from crm_workspace.web.display import html_table

from .model import MailLogModel


def _table(rows: list[dict], columns: list[tuple[str, str]], empty: str) -> pn.pane.HTML:
    """Rows as the core's escaped table: times as "in 2 days" with the exact time on hover."""
    return pn.pane.HTML(html_table(rows, columns, empty=empty), sizing_mode="stretch_width")


class MailLogPage(pn.viewable.Viewer):
    workspace = param.ClassSelector(class_=Workspace)

    def __init__(self, **params):
        super().__init__(**params)
        self.model = MailLogModel(workspace=self.workspace)
        read_only = self.workspace.read_only
        self._buttons = []
        for label, action, color in (
            ("Create contact", self.model.create, "primary"),
            ("Attach to contact", self.model.attach, "default"),
            ("Ignore address", self.model.ignore, "danger"),
            ("Check mailbox now", self.model.check_now, "default"),
        ):
            button = pn.widgets.Button(label=label, color=color, disabled=read_only)
            button.on_click(lambda _e, act=action: act())
            if read_only:
                button.description = "Read-only: you may not change anything"
            self._buttons.append(button)

    @param.depends("model.message", "model.failed")
    def _message(self):
        if not self.model.message:
            return pn.Spacer(height=0)
        return pn.pane.Alert(
            html.escape(self.model.message),
            alert_type="danger" if self.model.failed else "success",
            sizing_mode="stretch_width",
        )

    @param.depends("workspace.revision", "model.message")
    def _summary(self):
        counts = self.model.counts()
        spec = self.model.mailbox()
        where = "not set (an admin sets `maillog_mailbox`)" if not spec else "set"
        return pn.pane.Markdown(
            f"Logging mailbox: {where}. Messages logged: **{counts['logged']}**, waiting on review: "
            f"**{counts['pending']}**, auto/bulk skipped: {counts['skipped']}, failed: {counts['failed']}. "
            f"Addresses to review: **{counts['to_review']}**."
        )

    @param.depends("workspace.revision", "model.message")
    def _review(self):
        return _table(
            self.model.entries(),
            [
                ("address", "Address"),
                ("name", "Name"),
                ("first_seen", "First seen"),
                ("messages", "Messages"),
                ("first_subject", "First message"),
            ],
            "Nothing to review.",
        )

    @param.depends("workspace.revision", "model.message")
    def _recent(self):
        return _table(
            self.model.recent(),
            [
                ("logged_at", "Filed"),
                ("direction", "Way"),
                ("sender", "From"),
                ("subject", "Subject"),
                ("contacts", "Contacts"),
                ("status", "Status"),
                ("error", "Problem"),
            ],
            "No mail filed yet.",
        )

    def __panel__(self):
        m = self.model
        create, attach, ignore, check = self._buttons
        return pn.Column(
            "## Mail log",
            pn.pane.Markdown(
                "BCC or forward an e-mail to the logging mailbox: it is filed as an email activity on every "
                "contact it names. Addresses that are no contact wait here for you."
            ),
            self._message,
            self._summary,
            check,
            "### Waiting for review",
            self._review,
            pn.Row(pn.widgets.Select.from_param(m.param.address, width=280)),
            pn.Row(
                pn.widgets.TextInput.from_param(m.param.first_name, width=180),
                pn.widgets.TextInput.from_param(m.param.last_name, width=180),
                create,
            ),
            pn.Row(pn.widgets.IntInput.from_param(m.param.contact_id, width=180), attach, ignore),
            "### Recently filed",
            self._recent,
            sizing_mode="stretch_width",
        )
