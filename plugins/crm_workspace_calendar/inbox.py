"""Invitations by mail: the ``calendar_mailbox`` a team invites (or forwards invitations to).

Each unread message's ``text/calendar`` parts (METHOD:REQUEST, also CANCEL) are imported
exactly like an uploaded file, acting as the system: the meetings belong to the team
member who organizes or attends them. A message is marked read only after its meetings
are stored; one without an invitation, or with a broken one, is skipped (and reported)
so it never blocks the rest.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from crm_workspace.errors import CrmError, DatabaseLocked, PermissionDenied
from crm_workspace.services.mailbox import open_mailbox

from .icsread import CalendarImportError
from .imports import import_calendar

if TYPE_CHECKING:
    from crm_workspace import Workspace

log = logging.getLogger(__name__)
RUN_LIMIT = 100


@dataclass
class InboxResult:
    messages: int = 0
    created: int = 0
    updated: int = 0
    skipped: list[str] = field(default_factory=list)
    unknown: set[str] = field(default_factory=set)

    def line(self) -> str:
        return (
            f"{self.messages} invitations read: {self.created} meetings logged, {self.updated} updated, "
            f"{len(self.skipped)} messages skipped, {len(self.unknown)} unknown attendees"
        )


def import_mailbox(workspace: Workspace, spec: str | None = None, limit: int | None = RUN_LIMIT) -> InboxResult:
    spec = spec or str(workspace.setting("calendar_mailbox", "") or "")
    if not spec:
        raise CrmError("no invitations mailbox: an admin sets calendar_mailbox (a Maildir path or imap://...)")
    result = InboxResult()
    with open_mailbox(spec) as box:
        for item in box.unread(limit=limit):
            subject = str(item.message.get("Subject", "") or item.key)
            try:
                if item.too_big:
                    raise CalendarImportError("too big to read")
                done = import_calendar(workspace, item.message.as_bytes(), "invitation.eml", source="mail")
            except (sqlite3.Error, DatabaseLocked, PermissionDenied):
                raise  # the database or the acting user, not the message: leave it unread
            except Exception as error:
                result.skipped.append(f"{subject}: {error}")
                log.warning("calendar: skipped invitation %r: %s", subject, error)
            else:
                result.messages += 1
                result.created += done.created
                result.updated += done.updated
                result.unknown |= set(done.unknown)
            box.mark_done(item.key)
    return result
