"""The admin-only audit page: every change, who, when, before and after (paged in SQL).

One of the app's own pages (crm_workspace/web/app.py), listed for admins only;
a non-admin who reaches it anyway sees a refusal, never the trail.
"""

from __future__ import annotations

import html
from typing import Any

import pandas as pd
import panel as pn
import param

from crm_workspace.data import audit, permissions
from crm_workspace.web.list_table import ListTable
from crm_workspace.workspace import Workspace

PAGE_SIZE = 50


class AuditModel(param.Parameterized):
    """Filters and paging over audit_log; the rows come from one SQL query."""

    workspace = param.ClassSelector(class_=Workspace)
    table = param.String(default="")
    record_id = param.String(default="")
    user = param.String(default="")
    since = param.String(default="")
    page = param.Integer(default=0, bounds=(0, None))

    def _filters(self) -> dict[str, str]:
        return {"table": self.table, "record_id": self.record_id, "user": self.user, "since": self.since}

    def total(self) -> int:
        return audit.count_entries(self.workspace.store, **self._filters())

    def rows(self) -> pd.DataFrame:
        rows = audit.page_of_entries(
            self.workspace.store, **self._filters(), limit=PAGE_SIZE, offset=self.page * PAGE_SIZE
        )
        return pd.DataFrame(
            [
                {
                    "at": r["at"],
                    "user": r["user"],
                    "action": r["action"],
                    "record": f"{r['table_name']}:{r['row_id']}",
                    "change": audit.describe_change(r),
                }
                for r in rows
            ],
            columns=["at", "user", "action", "record", "change"],
        )


class AuditPage(pn.viewable.Viewer):
    workspace = param.ClassSelector(class_=Workspace)

    def __init__(self, **params: Any):
        super().__init__(**params)
        self.model = AuditModel(workspace=self.workspace)

    def __panel__(self) -> pn.viewable.Viewable:
        if not permissions.is_admin(self.workspace.store):
            return pn.pane.Alert(
                f"Only admins can read the audit trail ({html.escape(self.workspace.user)} is not one).",
                alert_type="warning",
            )
        model = self.model
        filters = pn.Row(
            pn.widgets.TextInput.from_param(model.param.table, label="Table", placeholder="contacts", width=150),
            pn.widgets.TextInput.from_param(model.param.record_id, label="Record id", width=100),
            pn.widgets.TextInput.from_param(model.param.user, label="User", width=120),
            pn.widgets.TextInput.from_param(model.param.since, label="Since (ISO date)", width=150),
        )
        previous = pn.widgets.Button(label="◀ Newer", width=90)
        following = pn.widgets.Button(label="Older ▶", width=90)
        previous.on_click(lambda _e: setattr(model, "page", max(0, model.page - 1)))
        following.on_click(lambda _e: setattr(model, "page", model.page + 1))
        for name in ("table", "record_id", "user", "since"):
            model.param.watch(lambda _e: setattr(model, "page", 0), name)

        def table(*_args: Any) -> pn.viewable.Viewable:
            total = model.total()
            pages = max(1, -(-total // PAGE_SIZE))
            return pn.Column(
                pn.pane.Markdown(f"{total:,} entries · page {model.page + 1} of {pages}"),
                ListTable(
                    model.rows(),
                    sizing_mode="stretch_width",
                    widths={"change": "45%"},
                    formatters={"change": "wrap"},
                    height=560,
                    empty="No changes recorded",
                ),
            )

        body = pn.bind(
            table,
            model.param.table,
            model.param.record_id,
            model.param.user,
            model.param.since,
            model.param.page,
            self.workspace.param.revision,
        )
        return pn.Column(
            pn.pane.Markdown("## Audit trail\nEvery change: who, when, before and after. Append-only."),
            filters,
            pn.Row(previous, following),
            body,
            sizing_mode="stretch_width",
        )


def audit_page(workspace: Workspace) -> AuditPage:
    return AuditPage(workspace=workspace)
