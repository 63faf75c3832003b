"""The Calendar page's state: upcoming meetings, the feed address, an import (params over the store)."""

from __future__ import annotations

import param

from crm_workspace import Workspace
from crm_workspace.errors import CrmError

from . import feeds
from .imports import import_calendar, upcoming


class CalendarModel(param.Parameterized):
    workspace = param.ClassSelector(class_=Workspace)
    days = param.Integer(default=30, bounds=(1, 365), label="Days ahead")
    mine = param.Boolean(default=True, label="Only my meetings")
    feed_user = param.String(default="", label="Feed of")
    feed_link = param.String(default="", doc="The feed address just made (shown once).")
    message = param.String(default="")
    failed = param.Boolean(default=False)

    def __init__(self, **params):
        super().__init__(**params)
        if not self.feed_user:
            self.feed_user = self.workspace.user

    def is_admin(self) -> bool:
        return feeds.role_of(self.workspace) == "admin"

    def users(self) -> list[str]:
        if not self.is_admin():
            return [self.workspace.user]
        rows = self.workspace.store.query("SELECT username FROM users WHERE active = 1 ORDER BY username")
        return [r["username"] for r in rows] or [self.workspace.user]

    def meetings(self) -> list[dict]:
        return upcoming(self.workspace, user=self.workspace.user if self.mine else None, days=self.days)

    def feed_rows(self) -> list[dict]:
        return feeds.feeds(self.workspace, self.feed_user)

    def _say(self, text: str, failed: bool = False) -> None:
        self.param.update(message=text, failed=failed)

    def make_feed(self) -> None:
        try:
            token = feeds.make_feed(self.workspace, self.feed_user)
        except CrmError as error:
            self._say(str(error), True)
            return
        self.feed_link = feeds.feed_url(self.workspace, token)
        self._say(
            f"New feed address for {self.feed_user}: copy it now, it is shown only once. The old one stopped working."
        )

    def revoke(self) -> None:
        try:
            count = feeds.revoke_feeds(self.workspace, self.feed_user)
        except CrmError as error:
            self._say(str(error), True)
            return
        self.feed_link = ""
        self._say(f"Revoked {count} feed address{'es' if count != 1 else ''} of {self.feed_user}.")

    def import_file(self, data: bytes | None, filename: str) -> None:
        if not data:
            self._say("Choose an .ics file (or an .eml invitation) first.", True)
            return
        try:
            result = import_calendar(self.workspace, data, filename or "")
        except CrmError as error:
            self._say(f"Nothing imported: {error}", True)
            return
        self._say("\n".join(result.lines()))
