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
    workspace = param.ClassSelector(class_=Workspace)
    section = param.Selector(default="Queue", objects=list(SECTIONS))

    def __init__(self, **params: Any):
        super().__init__(**params)
        self._parts: dict[str, Any] = {}
        self.body = pn.Column(sizing_mode="stretch_width")
        self.switch = pn.widgets.RadioButtonGroup.from_param(self.param.section, label="", color="light")
        self._seen: dict | None = None
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

            try:
                self.body.objects = [TicketView(workspace=self.workspace, ticket_id=int(args["id"]))]
            except (CrmError, ValueError) as error:
                back = pn.widgets.Button(label="◀ Queue")
                back.on_click(lambda _e: self.workspace.open_page("service"))
                self.body.objects = [pn.pane.Alert(E(str(error)), alert_type="danger"), back]
            return
        self.body.objects = [
            pn.Row(pn.pane.Markdown("## Service", margin=(0, 20, 0, 5)), self.switch),
            self._part(self.section),
        ]

    def __panel__(self):
        return self.body
