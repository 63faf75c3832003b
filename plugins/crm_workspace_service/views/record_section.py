"""A contact's or organization's tickets, as a section of their record page."""

from __future__ import annotations

import panel as pn

from crm_workspace import Workspace
from crm_workspace.web.display import when_html

from ..context import tickets_of
from .common import CSS, E, ticket_link


def tickets_section(workspace: Workspace, table: str, record_id: int) -> pn.viewable.Viewable:
    rows = tickets_of(workspace, table, record_id)
    if not rows:
        return pn.pane.Markdown("No tickets.")
    body = "".join(
        f"<tr><td>{ticket_link(r['id'], '#' + str(r['id']) + ' ' + r['subject'])}</td><td>{E(r['status'])}</td>"
        f"<td>{E(r['priority'])}</td><td>{E(r['assignee'] or '')}</td><td>{when_html(r['created_at'])}</td></tr>"
        for r in rows
    )
    head = "<tr><th>Ticket</th><th>Status</th><th>Priority</th><th>Assignee</th><th>Opened</th></tr>"
    return pn.pane.HTML(
        f"<table class='svc-tickets' style='border-collapse:collapse;font-size:13px'>{head}{body}</table>",
        stylesheets=[CSS],
    )
