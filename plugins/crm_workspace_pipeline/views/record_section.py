"""The deals of a contact or an organization, as a section of their record page."""

from __future__ import annotations

import panel as pn

from crm_workspace import Workspace

from ..deals import deals_of
from ..values import money
from .common import html_table

DEAL_COLUMNS = {
    "title": "Deal",
    "stage": "Stage",
    "status": "Status",
    "amount": "Amount",
    "probability": "Probability",
    "expected_close": "Expected close",
    "owner": "Owner",
}


def deals_section(workspace: Workspace, table: str, record_id: int) -> pn.viewable.Viewable:
    """The deals of a contact or an organization, for their record page."""
    rows = deals_of(workspace, table, record_id)
    if not rows:
        return pn.pane.Markdown("No deals yet.")
    for row in rows:
        row["amount"] = money(row["amount"], row["currency"])
        row["probability"] = "" if row["probability"] is None else f"{row['probability']:g}%"
    return pn.pane.HTML(html_table(rows, DEAL_COLUMNS))
