"""The Service page's state: the queue's filters and page (params over ``queue.py``), no widgets."""

from __future__ import annotations

from typing import Any

import pandas as pd
import param

from crm_workspace import Workspace
from crm_workspace.web.display import when_html

from . import clock
from .queue import VIEWS, Filters, count, marker, page, saved_views, soon_moments, teams

QUEUE_COLUMNS = {
    "sla": "SLA",
    "id": "#",
    "subject": "Subject",
    "requester": "Requester",
    "organization": "Organization",
    "status": "Status",
    "priority": "Priority",
    "assignee": "Assignee",
    "team": "Team",
    "due": "Next due",
}


class QueueModel(param.Parameterized):
    workspace = param.ClassSelector(class_=Workspace)
    view = param.Selector(default="open", objects=list(VIEWS), doc="Which tickets")
    team = param.String(default="", doc="Team")
    assignee = param.String(default="", doc="Assignee")
    priority = param.Selector(default="", objects=["", "low", "normal", "high", "urgent"], doc="Priority")
    text = param.String(default="", doc="Search subject or #id")
    page_size = param.Integer(default=50, bounds=(10, 500))
    cursors = param.List(default=[], doc="The cursor of each page shown so far (keyset pagination).")

    def filters(self) -> Filters:
        return Filters(
            view=self.view,
            team=self.team or None,
            assignee=self.assignee or None,
            priority=self.priority or None,
            text=self.text or None,
        )

    @param.depends("view", "team", "assignee", "priority", "text", watch=True)
    def _first_page(self) -> None:
        self.cursors = []

    def rows(self) -> tuple[pd.DataFrame, Any]:
        """This page's rows (as the table shows them) and the next page's cursor."""
        after = self.cursors[-1] if self.cursors else None
        rows, cursor = page(self.workspace, self.filters(), after=after, limit=self.page_size)
        now = clock.now()
        soon = soon_moments(self.workspace, now)
        frame = pd.DataFrame(
            [
                {
                    "sla": marker(r, now, soon),
                    "id": r["id"],
                    "subject": r["subject"],
                    "requester": r["requester"],
                    "organization": r["organization"] or "",
                    "status": r["status"],
                    "priority": r["priority"],
                    "assignee": r["assignee"] or "",
                    "team": r["team"] or "",
                    # "in 2 days" shown, the exact time on hover; the cell's text starts with the ISO time
                    # (<time datetime='...'>), so sorting the column sorts by time, not alphabetically
                    "due": when_html(r["sla_due_at"], now),
                }
                for r in rows
            ],
            columns=list(QUEUE_COLUMNS),
        )
        return frame, cursor

    def total(self) -> int:
        return count(self.workspace, self.filters())

    def next_page(self, cursor) -> None:
        if cursor is not None:
            self.cursors = [*self.cursors, cursor]

    def previous_page(self) -> None:
        self.cursors = self.cursors[:-1]

    def teams(self) -> list[str]:
        return teams(self.workspace)

    def agents(self) -> list[str]:
        return [
            r["username"]
            for r in self.workspace.query(
                "SELECT username FROM users WHERE role != 'viewer' AND coalesce(active, 1) = 1 ORDER BY username"
            )
        ]

    def saved(self) -> list[dict]:
        return saved_views(self.workspace)

    def apply_saved(self, filters_json: str) -> None:
        f = Filters.from_json(filters_json)
        self.param.update(
            view=f.view, team=f.team or "", assignee=f.assignee or "", priority=f.priority or "", text=f.text or ""
        )
