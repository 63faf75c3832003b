"""The knowledge base in a real Chromium: write an article with a live sanitised preview, publish it,
read it on the public /kb help centre (no login)."""

from __future__ import annotations

import re

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


def test_satisfaction_page_draws_its_charts(page, served_demo):
    open_page(page, served_demo, "surveys")
    expect(page.locator(".sv-csat")).to_have_text(re.compile(r"^\d+\.\d %$"), timeout=WAIT)
    expect(page.locator(".sv-nps")).to_have_text(re.compile(r"^[+-]?\d+$"))
    page.wait_for_function(
        "() => { const n = []; const walk = r => { r.querySelectorAll('*').forEach(e => {"
        " if (e.tagName === 'CANVAS') n.push(e); if (e.shadowRoot) walk(e.shadowRoot); }); };"
        " walk(document); return n.filter(c => c.width > 0).length >= 2; }",
        timeout=WAIT,
    )
    assert page.locator(".alert-danger").count() == 0


def test_a_suggested_article_is_inserted_into_a_reply(page, tmp_path, demo_template):
    """The service plugin's ticket page is on another branch: a stand-in page wires the section the same way."""
    import shutil
    import sys
    from pathlib import Path

    from helpers import Server

    from crm_workspace import Workspace

    db = tmp_path / "crm.db"
    shutil.copy(demo_template, db)
    ws = Workspace.open(db, user="ana")
    ticket = ws.store.insert(
        "tickets", {"subject": "I forgot my password", "description": "cannot sign in", "status": "open"}
    )
    first = ws.df("knowledge.suggest", subject="I forgot my password", body="cannot sign in").iloc[0]
    ws.close()
    app = Path(__file__).with_name("kb_reply_app.py")
    panel = str(Path(sys.executable).with_name("panel"))
    server = Server(
        db,
        env={"TICKET": str(ticket["id"])},
        command=lambda port: [
            panel,
            "serve",
            str(app),
            "--port",
            str(port),
            "--address",
            "127.0.0.1",
            "--allow-websocket-origin",
            f"localhost:{port}",
        ],
        ready_path="kb_reply_app",
    )
    try:
        page.goto(f"{server.url}kb_reply_app")
        expect(page.get_by_role("link", name="Reset your password")).to_be_visible(timeout=60_000)
        page.get_by_role("button", name="Insert into reply").first.click()
        reply = page.locator(".reply textarea")
        expect(reply).to_have_value(f"Hello,\n{first['title']}: {first['url']}", timeout=WAIT)
        assert first["url"].startswith("http://localhost:5006/kb/")
    finally:
        server.stop()
