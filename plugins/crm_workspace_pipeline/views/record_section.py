"""The deals of a contact or an organization, as a section of their record page."""

from __future__ import annotations

import panel as pn

from crm_workspace import Workspace

from ..deals import deals_of
from .common import html_table


def deals_section(workspace: Workspace, table: str, record_id: int) -> pn.viewable.Viewable:
    """The deals of a contact or an organization, for their record page."""
    rows = deals_of(workspace, table, record_id)
    if not rows:
        return pn.pane.Markdown("No deals yet.")
    for row in rows:
        row["amount"] = "" if row["amount"] is None else f"{row['amount']:,.0f} {row['currency'] or ''}"
    return pn.pane.HTML(
        html_table(rows, ["title", "stage", "status", "amount", "probability", "expected_close", "owner"])
    )
