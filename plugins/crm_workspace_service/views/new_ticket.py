"""Open a ticket by hand (a phone call, a chat, a walk-in): subject, requester, priority, channel, text."""

from __future__ import annotations

import panel as pn
import param

from crm_workspace import Workspace
from crm_workspace.errors import CrmError
from crm_workspace.web.deferred import lazy_card

from ..tickets import open_for_requester
from .common import READ_ONLY_TIP, notify, read_only


class NewTicket(pn.viewable.Viewer):
    workspace = param.ClassSelector(class_=Workspace)

    def __init__(self, **params):
        super().__init__(**params)
        locked = read_only(self.workspace)
        self.subject = pn.widgets.TextInput(label="Subject", width=320, disabled=locked)
        self.email = pn.widgets.TextInput(
            label="Requester's e-mail", placeholder="kim@example.com", width=240, disabled=locked
        )
        self.priority = pn.widgets.Select(
            label="Priority", options=["low", "normal", "high", "urgent"], value="normal", width=110, disabled=locked
        )
        self.channel = pn.widgets.Select(
            label="Channel", options=["phone", "web", "chat", "email"], value="phone", width=110, disabled=locked
        )
        self.text = pn.widgets.TextAreaInput(
            label="What the customer needs", height=90, sizing_mode="stretch_width", disabled=locked
        )
        self.create = pn.widgets.Button(
            label="Open ticket",
            color="primary",
            width=130,
            disabled=locked,
            description=READ_ONLY_TIP if locked else None,
        )
        self.create.on_click(self._create)

    def _create(self, _event=None) -> None:
        try:
            ticket = open_for_requester(
                self.workspace,
                subject=self.subject.value,
                email=self.email.value,
                priority=self.priority.value,
                channel=self.channel.value,
                description=self.text.value_input or self.text.value,
            )
        except CrmError as error:
            notify("error", str(error))
            return
        self.subject.value = self.email.value = self.text.value = ""
        self.workspace.open_page("service", id=ticket["id"])

    def __panel__(self):
        # the form is drawn when first opened, not with the queue
        return lazy_card(
            lambda: [pn.Row(self.subject, self.email, self.priority, self.channel), self.text, self.create],
            title="New ticket",
            sizing_mode="stretch_width",
        )
