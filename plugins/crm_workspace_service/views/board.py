"""The board by status: a column per status, the most urgent tickets of each as cards."""

from __future__ import annotations

import panel as pn

from crm_workspace import Workspace

from .. import clock
from ..queue import board, marker, soon_moments
from .common import CSS, SLA_LABELS, E, ticket_link

TITLES = {"new": "New", "open": "Open", "pending": "Pending", "on_hold": "On hold", "solved": "Solved"}


def board_html(workspace: Workspace) -> str:
    now = clock.now()
    soon = soon_moments(workspace, now)
    columns = []
    for status, rows in board(workspace).items():
        cards = "".join(
            f"<div class='svc-card' data-ticket='{int(r['id'])}'>{ticket_link(r['id'], '#' + str(r['id']) + ' ' + r['subject'])}"
            f"<div>{E(r['requester'] or '')} · {E(r['priority'])} · {E(r['assignee'] or 'unassigned')}</div>"
            f"<span class='svc-sla' data-state='{marker(r, now, soon)}'>{E(SLA_LABELS[marker(r, now, soon)])}</span></div>"
            for r in rows
        )
        columns.append(
            f"<div class='svc-col' style='flex:1;min-width:200px;padding:0 6px'><h4>{E(TITLES[status])} ({len(rows)})</h4>{cards}</div>"
        )
    return f"<div style='display:flex;gap:8px;align-items:flex-start'>{''.join(columns)}</div>"


def board_view(workspace: Workspace) -> pn.viewable.Viewable:
    def render(_revision):
        return pn.pane.HTML(board_html(workspace), stylesheets=[CSS], sizing_mode="stretch_width")

    return pn.panel(pn.bind(render, workspace.param.revision), sizing_mode="stretch_width")
