"""Contact list page: one page of rows at a time, straight from SQL."""

from __future__ import annotations

import panel as pn
import param

from crm_workspace import Workspace

PAGE_SIZE = 50


class ContactList(pn.viewable.Viewer):
    workspace = param.ClassSelector(class_=Workspace)
    page = param.Integer(default=0, bounds=(0, None))

    def rows(self):
        return self.workspace.df(
            "SELECT c.id, c.first_name, c.last_name, c.email, o.name AS organization, c.stakeholder_type,"
            " c.lifecycle_stage, c.owner FROM contacts c LEFT JOIN organizations o ON o.id = c.organization_id"
            " ORDER BY c.last_name, c.first_name, c.id LIMIT :limit OFFSET :offset",
            limit=PAGE_SIZE,
            offset=self.page * PAGE_SIZE,
        )

    @param.depends("page", "workspace.revision")
    def _table(self):
        total = self.workspace.store.scalar("SELECT count(*) FROM contacts")
        return pn.Column(
            pn.pane.Markdown(f"**{total:,} contacts** — page {self.page + 1}"),
            pn.widgets.Tabulator(self.rows(), show_index=False, disabled=True, sizing_mode="stretch_width"),
        )

    def __panel__(self):
        return pn.Column("## Contacts", self._table, sizing_mode="stretch_width")
