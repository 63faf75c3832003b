"""Navigation in a real Chromium: every page and record has a URL kept in step with the history.

Back/Forward change the page (not just the address), a reload and a shared link land on the
same screen, an unknown page or record is a friendly "not found" with the menu, and the menu
highlights the page's own entry. Who you are: a viewer sees read-only screens.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator

import pytest
from helpers import Server
from playwright.sync_api import expect

from crm_workspace import Workspace

TIMEOUT = 30_000


def first(server, sql: str) -> dict:
    ws = Workspace.open(server.db, builtins_only=True)
    try:
        return ws.store.query(sql)[0]
    finally:
        ws.close()


def goto(page, server, query: str = "") -> None:
    page.goto(f"{server.url}{query}")
    expect(page.locator("#sidebar").get_by_role("button", name="Home")).to_be_visible(timeout=TIMEOUT)


def selected(page):
    """The highlighted menu entry (Bokeh marks the active button of the group)."""
    return page.locator("#sidebar .bk-btn-group .bk-btn.bk-active")


def contact_heading(page, contact: dict):
    return page.locator("h2", has_text=f"{contact['first_name']} {contact['last_name']}")


def test_deep_link_reload_back_and_forward(page, served_demo):
    contact = first(served_demo, "SELECT * FROM contacts WHERE first_name IS NOT NULL ORDER BY id LIMIT 1")
    org = first(served_demo, "SELECT * FROM organizations ORDER BY id LIMIT 1")
    goto(page, served_demo, f"?page=contacts&id={contact['id']}")  # a shared link
    expect(contact_heading(page, contact)).to_be_visible(timeout=TIMEOUT)
    expect(selected(page)).to_contain_text("Contacts")

    page.reload()  # a reload lands on the same record
    expect(contact_heading(page, contact)).to_be_visible(timeout=TIMEOUT)

    page.get_by_role("button", name=re.compile("Organizations")).click()
    expect(page).to_have_url(re.compile(r"\?page=organizations$"), timeout=TIMEOUT)
    expect(page.get_by_text("## Organizations").or_(page.get_by_role("heading", name="Organizations"))).to_be_visible(
        timeout=TIMEOUT
    )
    page.locator("tr.lt-row td", has_text=org["name"]).first.click()
    expect(page.locator("h2", has_text=org["name"])).to_be_visible(timeout=TIMEOUT)
    expect(page).to_have_url(re.compile(rf"\?page=organizations&id={org['id']}$"))
    expect(selected(page)).to_contain_text("Organizations")  # not Contacts

    page.go_back()  # the organizations list again: the page changes, not just the address
    expect(page).to_have_url(re.compile(r"\?page=organizations$"))
    expect(page.locator("h2", has_text=org["name"])).to_have_count(0, timeout=TIMEOUT)
    page.go_back()
    expect(contact_heading(page, contact)).to_be_visible(timeout=TIMEOUT)
    expect(selected(page)).to_contain_text("Contacts")
    page.go_forward()
    page.go_forward()
    expect(page.locator("h2", has_text=org["name"])).to_be_visible(timeout=TIMEOUT)
    expect(selected(page)).to_contain_text("Organizations")


def test_pipeline_and_a_deal_have_links(page, served_demo):
    goto(page, served_demo, "?page=pipeline")
    card = page.locator(".pl-card").first
    expect(card).to_be_visible(timeout=TIMEOUT)
    expect(selected(page)).to_contain_text("Pipeline")
    deal_id = int(card.get_attribute("data-id"))
    card.click()
    expect(page).to_have_url(re.compile(rf"\?page=pipeline&deal={deal_id}$"), timeout=TIMEOUT)
    deal_form = page.get_by_role("button", name="Save deal")  # the deal's side panel is open
    expect(deal_form).to_be_visible(timeout=TIMEOUT)
    page.reload()  # the deal's link lands on the deal
    expect(deal_form).to_be_visible(timeout=TIMEOUT)
    page.get_by_role("button", name=re.compile("Contacts")).click()
    expect(page).to_have_url(re.compile(r"\?page=contacts$"), timeout=TIMEOUT)
    page.go_back()
    expect(deal_form).to_be_visible(timeout=TIMEOUT)
    expect(selected(page)).to_contain_text("Pipeline")
    goto(page, served_demo, "?page=pipeline&deal=99999999")
    expect(page.get_by_text("Deal not found")).to_be_visible(timeout=TIMEOUT)


def test_unknown_page_and_unknown_record_are_not_found_inside_the_app(page, served_demo):
    goto(page, served_demo, "?page=no-such-module")
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible(timeout=TIMEOUT)
    expect(page.locator("#sidebar").get_by_role("button", name=re.compile("Contacts"))).to_be_visible()  # the menu
    expect(selected(page)).to_have_count(0)
    expect(page.get_by_text("Traceback")).to_have_count(0)
    page.get_by_role("button", name="Go to the home page").click()
    expect(page.get_by_role("heading", name=re.compile("Welcome"))).to_be_visible(timeout=TIMEOUT)

    goto(page, served_demo, "?page=contacts&id=99999999")
    expect(page.get_by_role("heading", name="Contact not found")).to_be_visible(timeout=TIMEOUT)
    page.get_by_role("button", name="◀ All contacts").click()
    expect(page.get_by_placeholder("name, email, phone, organization…")).to_be_visible(timeout=TIMEOUT)
    goto(page, served_demo, "?page=organizations&id=nope")
    expect(page.get_by_role("heading", name="Organization not found")).to_be_visible(timeout=TIMEOUT)


@pytest.fixture(scope="module")
def served_without_user(tmp_path_factory, demo_template) -> Iterator[Server]:
    """The demo served with no --user and no $CRM_USER, as ``make serve`` does: the server's OS account
    is on the team (``crm init --demo`` run as it makes it the first admin) and still not acted as."""
    import getpass

    path = tmp_path_factory.mktemp("nouser") / "crm.db"
    shutil.copy(demo_template, path)
    ws = Workspace.open(path, user="tester")
    try:
        ws.store.insert("users", {"username": getpass.getuser(), "display_name": getpass.getuser(), "role": "admin"})
    finally:
        ws.close()
    server = Server(path, env={"CRM_USER": ""})
    yield server
    server.stop()


def test_first_visit_asks_who_you_are_and_a_viewer_sees_read_only_screens(page, served_without_user):
    server = served_without_user
    page.goto(server.url)
    expect(page.get_by_role("heading", name="Who are you?")).to_be_visible(timeout=TIMEOUT)
    page.locator("select").select_option(label="eve — Eve Lindqvist (viewer)")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("span[title='acting user']", has_text="eve")).to_be_visible(timeout=TIMEOUT)
    page.reload()  # remembered in this browser
    expect(page.locator("span[title='acting user']", has_text="eve")).to_be_visible(timeout=TIMEOUT)

    contact = first(server, "SELECT * FROM contacts WHERE first_name IS NOT NULL ORDER BY id LIMIT 1")
    goto(page, server, f"?page=contacts&id={contact['id']}")
    expect(contact_heading(page, contact)).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_role("button", name="Edit", exact=True)).to_be_disabled()
    expect(page.get_by_role("button", name="Log call", exact=True)).to_have_count(0)

    goto(page, server, "?page=pipeline")
    card = page.locator(".pl-card").first
    expect(card).to_be_visible(timeout=TIMEOUT)
    expect(card).to_have_attribute("draggable", "false")
    expect(page.get_by_role("button", name="+ Add deal")).to_be_disabled()
    deal_id = int(card.get_attribute("data-id"))
    before = first(server, f"SELECT stage, version FROM deals WHERE id = {deal_id}")
    target = page.locator(f".pl-column:not([data-stage='{before['stage']}'])").first
    card.drag_to(target)
    card.focus()
    page.keyboard.press("ArrowRight")  # the keyboard cannot move it either
    expect(page.locator(f".pl-card[data-id='{deal_id}']")).to_have_attribute("data-stage", before["stage"])
    assert first(server, f"SELECT stage, version FROM deals WHERE id = {deal_id}") == before

    page.get_by_role("link", name="switch user").click()  # forget this browser's choice: ask again
    expect(page.get_by_role("heading", name="Who are you?")).to_be_visible(timeout=TIMEOUT)
