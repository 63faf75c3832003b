"""The automation plugin's retention: the hourly scan of the delivery log reads through an index,
never the whole table."""

from __future__ import annotations

from crm_workspace_automation import retention

from crm_workspace.data import retention as core_retention


def test_the_scans_read_through_indexes(workspace):
    store = workspace.store
    deliveries = core_retention.plan(
        store, "webhook_deliveries", retention.DELIVERIES_DONE, ["x"], index="idx_webhook_deliveries_finished"
    )
    assert "USING INDEX idx_webhook_deliveries_finished" in deliveries and "SCAN" not in deliveries, deliveries
