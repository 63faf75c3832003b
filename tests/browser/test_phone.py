"""Phones at 390×844: the menu hides behind the header's button, nothing is wider than the screen,
lists become cards and the board scrolls column by column (crm_workspace/web/responsive.py)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from crm_workspace import Workspace

pytestmark = pytest.mark.xdist_group("ux18-phone")
TIMEOUT = 30_000
WIDTH, HEIGHT = 390, 844


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT}, has_touch=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_default_timeout(TIMEOUT)
    yield page
    context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


def open_at(page, server, query: str, ready: str) -> None:
    page.goto(f"{server.url}{query}")
    expect(page.locator(f"body[data-ready='{ready}']")).to_be_attached(timeout=TIMEOUT)


def fits_the_width(page) -> None:
    """Neither the document nor the app's scrolling main area is wider than the phone."""
    widths = page.evaluate(
        "() => { const main = document.getElementById('main');"
        " return [document.documentElement.scrollWidth, main.scrollWidth, main.clientWidth] }"
    )
    assert widths[0] <= WIDTH + 1, f"the document scrolls sideways: {widths}"
    assert widths[1] <= widths[2] + 1, f"the page's content is wider than the screen: {widths}"


def menu(page):
    return page.locator("#sidebar")


def test_the_menu_opens_from_its_button_and_closes_after_a_pick(phone, served_demo):
    open_at(phone, served_demo, "", "home")
    expect(phone.get_by_text(re.compile("Welcome, ")).first).to_be_visible(timeout=TIMEOUT)
    expect(menu(phone)).to_have_class(re.compile(r"\bhidden\b"), timeout=TIMEOUT)  # closed at first
    fits_the_width(phone)
    phone.locator("#sidebar-button").click()
    contacts = menu(phone).get_by_role("button", name="Contacts")
    expect(contacts).to_be_visible(timeout=TIMEOUT)
    box = menu(phone).bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTH  # over the page, within the screen
    contacts.click()
    expect(phone).to_have_url(re.compile(r"\?page=contacts$"), timeout=TIMEOUT)
    expect(menu(phone)).to_have_class(re.compile(r"\bhidden\b"), timeout=TIMEOUT)  # closed again
    expect(phone.get_by_placeholder(re.compile("name, email"))).to_be_visible(timeout=TIMEOUT)


def test_home_kpi_cards_fill_the_width(phone, served_demo):
    open_at(phone, served_demo, "", "home")
    cards = phone.locator(".crm-kpi")
    expect(cards.first).to_be_visible(timeout=TIMEOUT)
    boxes = [cards.nth(i).bounding_box() for i in range(min(cards.count(), 4))]
    first = boxes[0]
    full = first["width"] >= 0.8 * WIDTH
    two_a_row = len(boxes) > 1 and boxes[1]["y"] == first["y"] and all(b["width"] >= 0.4 * WIDTH for b in boxes[:2])
    assert full or two_a_row, f"the KPI cards use a narrow column: {boxes}"
    assert all(b["x"] >= 0 and b["x"] + b["width"] <= WIDTH + 1 for b in boxes)
    fits_the_width(phone)


def test_contacts_list_is_a_list_of_cards(phone, served_demo):
    open_at(phone, served_demo, "?page=contacts", "contacts")
    cell = phone.locator("tr.lt-row td", has_text=re.compile(r"@.+\.example")).first
    expect(cell).to_be_visible(timeout=TIMEOUT)
    row = phone.locator("tr.lt-row").first
    box = row.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTH and box["height"] > 40  # stacked lines
    email = cell.bounding_box()
    assert email["width"] > 120, "an email is readable, not squeezed into a sliver of a column"
    label = cell.evaluate("el => getComputedStyle(el, '::before').content")
    assert label == '"Email"', f"a card's cell says its column's title first, not only the value: {label}"
    fits_the_width(phone)


def test_a_contact_record_stacks_details_and_timeline(phone, served_demo):
    ws = Workspace.open(served_demo.db, builtins_only=True)
    try:
        contact = ws.store.query("SELECT * FROM contacts WHERE email IS NOT NULL ORDER BY id LIMIT 1")[0]
    finally:
        ws.close()
    open_at(phone, served_demo, f"?page=contacts&id={contact['id']}", "contacts")
    heading = phone.locator("h2", has_text=contact["first_name"])
    expect(heading).to_be_visible(timeout=TIMEOUT)
    email = phone.get_by_text(contact["email"]).first
    expect(email).to_be_visible(timeout=TIMEOUT)
    box = email.bounding_box()
    assert box["x"] + box["width"] <= WIDTH + 1
    log_call = phone.get_by_role("button", name=re.compile("Log call"))
    log_call.scroll_into_view_if_needed()
    call = log_call.bounding_box()
    assert call["width"] > 40 and call["x"] + call["width"] <= WIDTH + 1  # the timeline is below, not squeezed
    assert call["y"] > heading.bounding_box()["y"]
    fits_the_width(phone)


def test_the_board_scrolls_column_by_column(phone, served_demo):
    open_at(phone, served_demo, "?page=pipeline", "pipeline")
    board = phone.locator(".pl-board")
    expect(board.locator(".pl-column").first).to_be_visible(timeout=TIMEOUT)
    snap = board.evaluate("el => getComputedStyle(el).scrollSnapType")
    assert snap.startswith("x") and "mandatory" in snap
    column = board.locator(".pl-column").first.bounding_box()
    assert 0.6 * WIDTH <= column["width"] <= WIDTH  # one column at a time
    assert board.evaluate("el => el.scrollWidth > el.clientWidth")  # the others a swipe away
    fits_the_width(phone)
    board.locator(".pl-card").first.click()  # the deal's side panel fits the phone too
    form = phone.locator(".pl-deal-form")
    expect(form.get_by_text("Contacts on the deal")).to_be_visible(timeout=TIMEOUT)
    box = form.bounding_box()
    assert box["x"] + box["width"] <= WIDTH + 1 and box["width"] >= WIDTH - 40


def test_clicking_a_checkbox_label_toggles_it(page, served_demo):
    page.goto(f"{served_demo.url}?page=pipeline")
    expect(page.locator("body[data-ready='pipeline']")).to_be_attached(timeout=TIMEOUT)
    label = page.locator(".bk-label", has_text="My deals").first
    box = label.locator("xpath=preceding-sibling::input[@type='checkbox']")
    expect(box).not_to_be_checked(timeout=TIMEOUT)
    label.click()
    expect(box).to_be_checked(timeout=TIMEOUT)
    label.click()
    expect(box).not_to_be_checked(timeout=TIMEOUT)
