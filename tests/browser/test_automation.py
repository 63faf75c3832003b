"""The Automation page in a real Chromium: a rule made in the form, without code, is listed."""

from __future__ import annotations

from conftest import open_page


def test_a_rule_made_on_the_page_is_listed(page, served_demo):
    page.set_default_navigation_timeout(60_000)
    open_page(page, served_demo, "automation")
    page.get_by_label("Rule name").wait_for(timeout=60_000)
    assert page.locator("table.auto-rules td.auto-name", has_text="Proposal sent").count() == 1  # the demo's
    page.get_by_label("Rule name").fill("Won deal: say thanks")
    page.get_by_label("Rule name").press("Enter")
    page.get_by_label("Table").select_option("deals")
    page.get_by_label("When").select_option("update")
    page.get_by_role("button", name="+ Condition").click()
    page.get_by_label("Field").select_option("status")
    page.get_by_label("Condition", exact=True).select_option("changed to")
    page.get_by_label("Value").fill("won")
    page.get_by_label("Value").press("Enter")
    page.get_by_role("button", name="+ Action").click()
    page.get_by_label("Input 1").fill("Send a thank-you to {{ title }}")
    page.get_by_label("Input 1").press("Enter")
    page.get_by_role("button", name="Save rule").click()
    page.get_by_text("Saved rule #").wait_for(timeout=30_000)
    row = page.locator("table.auto-rules tr", has_text="Won deal: say thanks")
    row.wait_for(timeout=30_000)
    assert "status changed to won" in row.inner_text() and "enabled" in row.inner_text()
