"""The knowledge base in a real Chromium: write an article with a live sanitised preview, publish it,
read it on the public /kb help centre (no login)."""

from __future__ import annotations

from helpers import open_page
from playwright.sync_api import expect

WAIT = 30_000


def test_write_publish_and_read_at_kb(page, served_demo):
    page.set_default_navigation_timeout(60_000)
    open_page(page, served_demo, "knowledge")
    expect(page.get_by_role("heading", name="Knowledge base")).to_be_visible(timeout=WAIT)
    page.get_by_label("Title").fill("Export your reports to Excel")
    body = page.get_by_label("Markdown")
    body.fill("Open **Reports** and press *Export*.\n\n<script>window.pwned = 1</script>\n\n[bad](javascript:alert(1))")
    body.press("Tab")
    preview = page.locator(".kb-rendered")
    expect(preview.locator("strong")).to_have_text("Reports", timeout=WAIT)  # the live preview
    expect(preview).to_contain_text("<script>window.pwned = 1</script>")  # shown as text, not run
    assert preview.locator("a").count() == 0
    page.get_by_role("button", name="Publish").click()
    expect(page.locator(".kb-state")).to_contain_text("published", timeout=WAIT)

    page.goto(f"{served_demo.url}kb")
    expect(page.get_by_role("link", name="Export your reports to Excel")).to_be_visible(timeout=WAIT)
    page.get_by_role("link", name="Export your reports to Excel").click()
    expect(page.get_by_role("heading", name="Export your reports to Excel")).to_be_visible(timeout=WAIT)
    expect(page.locator("article strong")).to_have_text("Reports")
    assert page.evaluate("() => window.pwned") is None
    page.get_by_role("button", name="Yes").click()
    expect(page.get_by_text("Thanks for your feedback!")).to_be_visible(timeout=WAIT)
