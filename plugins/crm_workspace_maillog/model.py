"""The Mail log page's state: the review list, the chosen entry and what to do with it."""

from __future__ import annotations

import param

from crm_workspace import Workspace
from crm_workspace.errors import CrmError

from . import review
from .filing import log_mailbox


class MailLogModel(param.Parameterized):
    workspace = param.ClassSelector(class_=Workspace)
    address = param.Selector(objects=[""], default="", label="Address")
    first_name = param.String(default="", label="First name")
    last_name = param.String(default="", label="Last name")
    contact_id = param.Integer(default=None, allow_None=True, label="Existing contact #")
    message = param.String(default="")
    failed = param.Boolean(default=False)

    def __init__(self, **params):
        super().__init__(**params)
        self.refresh()

    def entries(self) -> list[dict]:
        return review.review_rows(self.workspace)

    def refresh(self) -> None:
        addresses = [row["address"] for row in self.entries()]
        self.param.address.objects = addresses or [""]
        if self.address not in addresses:
            self.address = addresses[0] if addresses else ""

    @param.depends("address", watch=True, on_init=True)
    def _prefill(self) -> None:
        row = next((r for r in self.entries() if r["address"] == self.address), None)
        parts = ((row or {}).get("name") or "").split()
        self.first_name = " ".join(parts[:-1]) if len(parts) > 1 else (parts[0] if parts else "")
        self.last_name = parts[-1] if len(parts) > 1 else ""

    def counts(self) -> dict[str, int]:
        return review.counts(self.workspace)

    def recent(self) -> list[dict]:
        return review.recent_messages(self.workspace)

    def mailbox(self) -> str:
        spec = str(self.workspace.setting("maillog_mailbox", "") or "")
        return spec if spec else ""

    def _done(self, text: str) -> None:
        self.param.update(message=text, failed=False)
        self.refresh()

    def _run(self, action) -> None:
        if not self.address:
            self.param.update(message="Nothing to review.", failed=True)
            return
        try:
            action()
        except CrmError as error:
            self.param.update(message=str(error), failed=True)

    def create(self) -> None:
        def act():
            contact, made = review.create_contact(self.workspace, self.address, self.first_name, self.last_name)
            self._done(f"Created contact #{contact['id']}; {made} message(s) logged on it.")

        self._run(act)

    def attach(self) -> None:
        def act():
            if not self.contact_id:
                raise CrmError("Give the number of the contact to attach the address to.")
            made = review.attach(self.workspace, self.address, int(self.contact_id))
            self._done(f"Attached to contact #{self.contact_id}; {made} message(s) logged on it.")

        self._run(act)

    def ignore(self) -> None:
        def act():
            address = self.address
            review.ignore(self.workspace, address)
            self._done(f"{address} will be ignored.")

        self._run(act)

    def check_now(self) -> None:
        try:
            result = log_mailbox(self.workspace)
        except CrmError as error:
            self.param.update(message=str(error), failed=True)
            return
        self._done(result.line())
