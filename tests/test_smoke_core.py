"""Smoke test so the suite is never empty; the real core tests live beside it."""

from crm_workspace import Workspace


def test_demo_workspace_has_the_standard_sizes(demo_workspace: Workspace):
    counts = {
        t: demo_workspace.store.scalar(f"SELECT count(*) FROM {t}") for t in ("organizations", "contacts", "deals")
    }
    assert counts == {"organizations": 50, "contacts": 300, "deals": 150}
