"""Lifecycle tracker: where every contact is on the customer lifecycle, and how they move."""

from __future__ import annotations

from crm_workspace import Metric, Page, hookimpl


@hookimpl
def crm_record_changed(workspace, changes):
    """Append a lifecycle event for every contact whose stage changed, whoever changed it."""
    events = [
        {
            "contact_id": change.id,
            "from_stage": (change.before or {}).get("lifecycle_stage"),
            "to_stage": change.after["lifecycle_stage"],
            "at": change.at,
            "by": change.user,
        }
        for change in changes
        if change.table == "contacts"
        and change.after is not None
        and change.after.get("lifecycle_stage")
        and change.changed("lifecycle_stage")
    ]
    if events:
        workspace.store.insert_many("lifecycle_events", events, audit=False, events=False)


@hookimpl
def crm_dashboards(workspace):
    def view(ws):
        from .views import StageCounts

        return StageCounts(workspace=ws)

    return [Page("lifecycle", "Lifecycle", view, icon="🔄", order=40, extensions=("tabulator",))]


@hookimpl
def crm_metrics(workspace):
    sql = "SELECT count(*) FROM contacts WHERE lifecycle_stage IN ('customer', 'advocate')"
    return [Metric("customers", "Customers", workspace.store.scalar(sql), sql=sql)]
