"""The Sequences page in a real Chromium against `crm serve`: the demo's welcome series and its step counts."""

from __future__ import annotations

import pytest
from conftest import open_page

from crm_workspace import Workspace

pytestmark = pytest.mark.xdist_group("seq19")


def test_the_page_lists_a_sequence_with_who_is_at_each_step(page, served_demo):
    page.set_default_timeout(60_000)
    open_page(page, served_demo, "sequences")
    page.get_by_text("Welcome series", exact=True).first.wait_for()
    page.get_by_text("Event follow-up", exact=True).first.wait_for()
    page.locator("tr.lt-row td", has_text="if opened within 2 d → step 3, else → step 4").first.wait_for()
    trigger = page.locator("td[data-field='trigger']", has_text="lifecycle stage becomes Lead").first
    trigger.wait_for()  # the whole sentence, wrapped within its column rather than cut off
    assert trigger.inner_text().strip() == "a contact's lifecycle stage becomes Lead"
    assert trigger.evaluate("cell => cell.scrollWidth <= cell.clientWidth + 1")
    ws = Workspace.open(served_demo.db, user="ana")
    waiting = ws.store.scalar(  # the demo's people wait from a day after its "today": no tick moves them
        "SELECT count(*) FROM sequence_enrollments e JOIN sequences s ON s.id = e.sequence_id"
        " WHERE s.name = 'Welcome series' AND e.status = 'active' AND e.current_step = 2"
    )
    ws.close()
    assert waiting > 0
    row = page.locator("tr.lt-row", has_text="if opened within 2 d").first
    assert row.locator("td[data-field='waiting_here']").inner_text().strip() == str(waiting)
