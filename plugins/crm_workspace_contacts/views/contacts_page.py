"""The "contacts" page: the list, or one contact's or organization's record page."""

from __future__ import annotations

from typing import Any

import panel as pn
import param

from crm_workspace import CrmError, Workspace

from .common import E
from .contact_list import ContactListView
from .record import ContactRecord, OrganizationRecord, record_or_not_found


class ContactsPage(pn.viewable.Viewer):
    """Routes on ``workspace.page_args``: ``id`` opens a contact, ``org`` an organization, else the list.

    The list is built on first use and kept, with its filters, for the way back.
    """

    workspace = param.ClassSelector(class_=Workspace)

    def __init__(self, **params: Any):
        super().__init__(**params)
        self._list: ContactListView | None = None
        self.body = pn.Column(sizing_mode="stretch_width")
        self._seen: dict | None = None
        self.workspace.param.watch(self._route, ["page", "page_args"])
        self._route()

    def _route(self, *events: Any) -> None:
        if events and self.workspace.page != "contacts":
            return  # another page's arguments: not ours
        args = dict(self.workspace.page_args or {})
        if args == self._seen and self.body.objects:
            return
        self._seen = args
        try:
            if args.get("id") is not None:
                self.body.objects = [
                    record_or_not_found(self.workspace, ContactRecord, args["id"], "contacts", "◀ All contacts")
                ]
            elif args.get("org") is not None:  # an older link: organizations now live at ?page=organizations&id=
                self.body.objects = [
                    record_or_not_found(
                        self.workspace, OrganizationRecord, args["org"], "organizations", "◀ Organizations"
                    )
                ]
            else:
                if self._list is None:
                    self._list = ContactListView(workspace=self.workspace)
                if "organization_id" in args:
                    self._list.set_organization(args.get("organization_id"))
                self.body.objects = [self._list]
        except CrmError as error:
            back = pn.widgets.Button(label="◀ All contacts")
            back.on_click(lambda _e: self.workspace.open_page("contacts"))
            self.body.objects = [pn.pane.Alert(E(str(error)), alert_type="danger"), back]

    def __panel__(self) -> pn.viewable.Viewable:
        return self.body
