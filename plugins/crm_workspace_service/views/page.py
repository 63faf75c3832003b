"""The "service" page: routes on ``workspace.page_args`` (``id`` opens a ticket) else Queue, Board, Metrics."""

from __future__ import annotations

from typing import Any

import panel as pn
import param

from crm_workspace import Workspace
from crm_workspace.errors import CrmError

from .common import E

SECTIONS = ("Queue", "Board", "Metrics", "Setup")


class ServicePage(pn.viewable.Viewer):
    """``?page=service`` the queue; ``&id=N`` a ticket; ``&id=N&insert=TEXT`` adds TEXT to its reply.

    The ``insert`` argument is how another module (the knowledge base's suggested articles,
    a record section on the ticket) puts text into the composer without importing this plugin:
    ``workspace.open_page("service", id=N, insert="...")``.
    """

    workspace = param.ClassSelector(class_=Workspace)
    section = param.Selector(default="Queue", objects=list(SECTIONS))

    def __init__(self, **params: Any):
        super().__init__(**params)
        self._parts: dict[str, Any] = {}
        self.body = pn.Column(sizing_mode="stretch_width")
        self.switch = pn.widgets.RadioButtonGroup.from_param(self.param.section, label="", color="light")
        self._seen: dict | None = None
        self.ticket_view = None  # the ticket shown, if any (reused while the same one is asked for)
        self._showing_ticket = False
        self.workspace.param.watch(self._route, ["page", "page_args"])
        self.param.watch(self._route, "section")
        self._route()

    def _part(self, name: str):
        if name not in self._parts:
            if name == "Queue":
                from .queue_view import QueueView

                self._parts[name] = QueueView(workspace=self.workspace)
            elif name == "Board":
                from .board import board_view

                self._parts[name] = board_view(self.workspace)
            elif name == "Setup":
                from .settings_view import SettingsView

                self._parts[name] = SettingsView(workspace=self.workspace)
            else:
                from .metrics_view import MetricsView

                self._parts[name] = MetricsView(workspace=self.workspace)
        return self._parts[name]

    def _route(self, *events: Any) -> None:
        if events and getattr(events[0], "name", "") in ("page", "page_args") and self.workspace.page != "service":
            return
        args = dict(self.workspace.page_args or {})
        if args.get("id") is not None:
            from .ticket_view import TicketView

            current = self.ticket_view
            try:
                if current is not None and self._showing_ticket and str(current.ticket_id) == str(args["id"]):
                    view = current  # the same ticket: keep the composer's text
                else:
                    view = self.ticket_view = TicketView(workspace=self.workspace, ticket_id=int(args["id"]))
                    self.body.objects = [view]
                    self._showing_ticket = True
                if args.get("insert"):
                    view.insert_text(str(args["insert"]))
            except (CrmError, ValueError) as error:
                self._showing_ticket = False
                back = pn.widgets.Button(label="◀ Queue")
                back.on_click(lambda _e: self.workspace.open_page("service"))
                self.body.objects = [pn.pane.Alert(E(str(error)), alert_type="danger"), back]
            return
        self._showing_ticket = False
        self.body.objects = [
            pn.Row(pn.pane.Markdown("## Service", margin=(0, 20, 0, 5)), self.switch),
            self._part(self.section),
        ]

    def __panel__(self):
        return self.body
