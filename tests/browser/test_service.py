"""The Service page in a real Chromium: the SLA marker turns to breached as the (test) clock moves."""

from __future__ import annotations

import pytest
from conftest import Server

from crm_workspace.testing import make_workspace

pytestmark = pytest.mark.xdist_group("svc20")

BADGE = '.svc-sla[data-metric="first response"]'


@pytest.fixture(scope="module")
def served_clock(tmp_path_factory):
    """A workspace with one high-priority ticket opened Monday 09:00 UTC, served with CRM_NOW read from a file."""
    root = tmp_path_factory.mktemp("svc-clock")
    now_file = root / "now.txt"
    now_file.write_text("2026-11-30T09:00:00Z")
    ws = make_workspace(root / "crm.db", user="ana")
    import crm_workspace_service.clock as clock

    clock.set_now("2026-11-30T09:00:00Z")
    try:
        kim = ws.store.insert("contacts", {"first_name": "Kim", "last_name": "Lee", "email": "kim@example.com"})["id"]
        from crm_workspace_service.tickets import create_ticket

        ticket = create_ticket(ws, subject="Server down", requester_id=kim, priority="high")
    finally:
        clock.set_now(None)
        ws.close()
    server = Server(root / "crm.db", env={"CRM_NOW": f"file:{now_file}"})
    server.ticket_id = ticket["id"]
    server.now_file = now_file
    yield server
    server.stop()


def test_the_sla_marker_turns_to_breached_as_time_passes(page, served_clock):
    page.set_default_timeout(60_000)
    page.goto(f"{served_clock.url}?page=service&id={served_clock.ticket_id}")
    badge = page.locator(BADGE)
    badge.wait_for()
    assert badge.get_attribute("data-state") == "ok"  # high: 4 business hours to respond
    served_clock.now_file.write_text("2026-11-30T12:30:00Z")
    page.locator(f'{BADGE}[data-state="soon"]').wait_for(timeout=30_000)
    served_clock.now_file.write_text("2026-11-30T13:05:00Z")
    page.locator(f'{BADGE}[data-state="breached"]').wait_for(timeout=30_000)
    assert "Breached" in page.locator(BADGE).inner_text()
