"""Untrusted text in every module page is shown as text: no script runs, no dialog fires.

Names, titles, notes and subjects carry XSS payloads; every page of the served
app is opened (as an admin, so the audit page too) and the test fails if a
dialog opens, an injected element appears, or the page set a marker global.
Also: a logged-in viewer is refused in the dashboard.
"""

from __future__ import annotations

import shutil

import pytest
from helpers import Server, open_page
from playwright.sync_api import expect

from crm_workspace import Workspace

IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(1)</script>"
SVG = '"><svg onload=alert(1)>'
#: Collapsed cards whose content is built when they are first opened (crm_workspace.web.deferred.lazy_card).
LAZY_CARDS = ("Filters", "Static lists: paste addresses, pick people or take an import")


@pytest.fixture(scope="module")
def xss_server(tmp_path_factory, demo_template):
    path = tmp_path_factory.mktemp("xss") / "crm.db"
    shutil.copy(demo_template, path)
    ws = Workspace.open(path, user="ana", builtins_only=True)
    store = ws.store
    org = store.insert("organizations", {"name": f"{IMG} Org", "city": SCRIPT, "industry": SVG})
    contact = store.insert(
        "contacts",
        {
            "first_name": IMG,
            "last_name": f"{SCRIPT} Aaron",
            "email": "xss@example.org",
            "title": SVG,
            "notes": f"{SCRIPT}{IMG}",
            "organization_id": org["id"],
            "lifecycle_stage": "lead",
            "owner": "ana",
        },
    )
    store.insert(
        "deals",
        {
            "title": f"{IMG} deal {SCRIPT}",
            "organization_id": org["id"],
            "contact_id": contact["id"],
            "stage": "qualification",
            "amount": 1000,
            "owner": "ana",
        },
    )
    store.insert(
        "activities",
        {
            "kind": "note",
            "subject": f"{SCRIPT} subject",
            "body": IMG,
            "contact_id": contact["id"],
            "occurred_at": "2026-01-01T10:00:00Z",
            "owner": "ana",
        },
    )
    store.insert(
        "relationships",
        {
            "source_type": "contacts",
            "source_id": contact["id"],
            "target_type": "contacts",
            "target_id": 1,
            "kind": "influences",
            "notes": SCRIPT,
        },
    )
    pages = ["home", *(p.name for p in ws.pages())]
    ws.close()
    server = Server(path)
    server.pages = pages
    yield server
    server.stop()


def test_xss_payloads_are_shown_as_text_on_every_page(page, xss_server):
    dialogs: list[str] = []

    def on_dialog(dialog):
        dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    failures = []
    shown_as_text = 0
    for name in xss_server.pages:
        open_page(page, xss_server, name)
        for title in LAZY_CARDS:  # built when first opened (lazy_card): the organization list, the people picker
            header = page.get_by_text(title, exact=True)
            if header.count():
                header.first.click()
        page.wait_for_timeout(1500)  # let lazy parts of the page (tables, charts) render
        injected = page.locator("img[src='x'], svg[onload]").count()
        if dialogs or injected:
            failures.append(f"page '{name}': dialogs={dialogs} injected elements={injected}")
            dialogs.clear()
        if page.get_by_text("alert(1)", exact=False).count():
            shown_as_text += 1
    assert not failures, failures
    assert shown_as_text >= 1, "the payloads should be visible as plain text somewhere"


def test_login_page_then_a_viewer_sees_no_admin_page(page, tmp_path, demo_template):
    from crm_workspace.data import permissions

    path = tmp_path / "crm.db"
    shutil.copy(demo_template, path)
    ws = Workspace.open(path, user="ana", builtins_only=True)
    ws.store.update("users", "eve", {"password_hash": permissions.hash_password("eve-password")})
    ws.close()
    server = Server(path)
    try:
        page.goto(f"{server.url}?page=contacts")
        page.locator("input[name='username']").fill("eve")
        page.locator("input[name='password']").fill("not-her-password")
        page.locator("input[name='password']").press("Enter")
        page.get_by_text("Invalid username or password").wait_for()
        page.locator("input[name='username']").fill("eve")
        page.locator("input[name='password']").fill("eve-password")
        page.locator("input[name='password']").press("Enter")
        page.get_by_role("button", name="Home").wait_for()
        expect(
            page.locator("span[title='acting user']", has_text="eve").first
        ).to_be_visible()  # the frame's badge: who is acting
        assert page.get_by_role("button", name="Audit trail").count() == 0  # admins only
        assert page.get_by_role("link", name="log out").count() == 1
    finally:
        server.stop()


def test_a_viewer_moving_a_deal_on_the_board_is_refused(page, tmp_path, demo_template):
    """A logged-in viewer gets a read-only board: cards neither drag nor move by keyboard.

    (The Store refuses a viewer's write whatever the browser sends: tests/test_security.py.)
    """
    import sqlite3

    from crm_workspace.data import permissions

    path = tmp_path / "crm.db"
    shutil.copy(demo_template, path)
    ws = Workspace.open(path, user="ana", builtins_only=True)
    ws.store.update("users", "eve", {"password_hash": permissions.hash_password("eve-password")})
    ws.close()
    server = Server(path)
    try:
        page.goto(f"{server.url}?page=pipeline")
        page.locator("input[name='username']").fill("eve")
        page.locator("input[name='password']").fill("eve-password")
        page.locator("input[name='password']").press("Enter")
        page.get_by_role("button", name="Home").wait_for()
        card = page.locator(".pl-card[data-stage='qualification']").first
        card.wait_for(timeout=60_000)
        deal_id = int(card.get_attribute("data-id"))
        stage = sqlite3.connect(path).execute("SELECT stage FROM deals WHERE id = ?", [deal_id]).fetchone()[0]
        assert card.get_attribute("draggable") == "false" and "read-only" in card.get_attribute("title")
        card.focus()
        card.press("ArrowRight")
        page.get_by_role("button", name="Home").click()  # a round trip: a move would have reached the server
        page.get_by_role("button", name="Pipeline").click()
        card.wait_for(timeout=60_000)
        assert sqlite3.connect(path).execute("SELECT stage FROM deals WHERE id = ?", [deal_id]).fetchone()[0] == stage
        assert page.locator(f".pl-card[data-id='{deal_id}'][data-stage='qualification']").count() == 1
    finally:
        server.stop()
