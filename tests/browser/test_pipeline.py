"""The pipeline board in a real Chromium: drag and drop writes the database, Lost needs a reason,
two sessions see each other's moves, the forecast renders, hostile titles stay text."""

from __future__ import annotations

import sqlite3
import time

import pytest
from helpers import open_page
from playwright.sync_api import expect

from crm_workspace import Workspace

COLUMN = 'section.pl-column[data-stage="{}"]'


def deal_row(server, deal_id: int) -> dict:
    conn = sqlite3.connect(server.db)
    conn.row_factory = sqlite3.Row
    try:
        return dict(conn.execute("SELECT * FROM deals WHERE id = ?", [deal_id]).fetchone())
    finally:
        conn.close()


def wait_for_db(server, deal_id: int, field: str, value, timeout: float = 10) -> dict:
    deadline = time.monotonic() + timeout
    row = deal_row(server, deal_id)
    while row[field] != value and time.monotonic() < deadline:
        time.sleep(0.2)
        row = deal_row(server, deal_id)
    return row


def open_board(page, server):
    page.set_viewport_size({"width": 1900, "height": 900})  # all six columns side by side
    open_page(page, server, "pipeline")
    page.locator(COLUMN.format("qualification")).wait_for()


def drag(page, card, stage: str) -> None:
    """A person's drag: press on the card, move over the column's header, release (HTML5 drag and drop)."""
    card.scroll_into_view_if_needed()
    page.wait_for_timeout(300)  # let the scroll settle before measuring
    source = card.bounding_box()
    target = page.locator(f"{COLUMN.format(stage)} header").bounding_box()
    page.mouse.move(source["x"] + source["width"] / 2, source["y"] + 15)
    page.mouse.down()
    page.mouse.move(source["x"] + source["width"] / 2 + 10, source["y"] + 25, steps=3)
    page.mouse.move(target["x"] + target["width"] / 2, target["y"] + target["height"] / 2, steps=5)
    page.mouse.up()


def first_card(page, stage: str):
    card = page.locator(f"{COLUMN.format(stage)} .pl-card").first
    card.wait_for()
    return card, int(card.get_attribute("data-id"))


def test_drag_a_card_to_another_column_writes_the_database(page, served_demo):
    open_board(page, served_demo)
    card, deal_id = first_card(page, "qualification")
    assert deal_row(served_demo, deal_id)["stage"] == "qualification"
    drag(page, card, "proposal")
    row = wait_for_db(served_demo, deal_id, "stage", "proposal")
    assert row["stage"] == "proposal"
    assert row["probability"] == 50  # the stage's default
    assert row["version"] == 2
    expect(page.locator(f'{COLUMN.format("proposal")} .pl-card[data-id="{deal_id}"]')).to_be_visible()


def test_keyboard_moves_a_card(page, served_demo):
    open_board(page, served_demo)
    card, deal_id = first_card(page, "needs_analysis")
    card.focus()
    page.keyboard.press("ArrowRight")
    assert wait_for_db(served_demo, deal_id, "stage", "proposal")["stage"] == "proposal"


def test_a_focused_card_keeps_the_focus_when_someone_elses_change_redraws_the_board(page, served_demo):
    open_board(page, served_demo)
    card, deal_id = first_card(page, "needs_analysis")
    card.focus()
    other = Workspace.open(served_demo.db, user="ben")
    added = other.store.insert("deals", {"title": "Added elsewhere", "stage": "qualification", "amount": 1})
    other.close()
    expect(page.locator(f'.pl-card[data-id="{added["id"]}"]')).to_be_visible()  # the board was redrawn
    page.keyboard.press("ArrowRight")  # still on the same card: the key is not lost
    assert wait_for_db(served_demo, deal_id, "stage", "proposal")["stage"] == "proposal"


def test_drop_on_lost_needs_a_reason(page, served_demo):
    open_board(page, served_demo)
    card, deal_id = first_card(page, "negotiation")
    drag(page, card, "lost")
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_text("Choose why the deal was lost")).to_be_visible()
    time.sleep(0.5)
    assert deal_row(served_demo, deal_id)["stage"] == "negotiation"
    page.get_by_label("Lost reason").select_option("competitor")
    page.get_by_role("button", name="Confirm").click()
    row = wait_for_db(served_demo, deal_id, "stage", "lost")
    assert (row["stage"], row["status"], row["lost_reason"]) == ("lost", "lost", "competitor")
    assert row["closed_at"]


def test_two_sessions_see_each_others_moves(browser, served_demo):
    contexts = [browser.new_context() for _ in range(2)]
    try:
        one, two = (context.new_page() for context in contexts)
        for p in (one, two):
            p.set_default_timeout(15_000)
            open_board(p, served_demo)
        card, deal_id = first_card(one, "qualification")
        expect(two.locator(f'{COLUMN.format("qualification")} .pl-card[data-id="{deal_id}"]')).to_be_visible()
        drag(one, card, "negotiation")
        expect(two.locator(f'{COLUMN.format("negotiation")} .pl-card[data-id="{deal_id}"]')).to_be_visible(
            timeout=5_000
        )
        # and back the other way
        card2 = two.locator(f'{COLUMN.format("negotiation")} .pl-card[data-id="{deal_id}"]')
        drag(two, card2, "needs_analysis")
        expect(one.locator(f'{COLUMN.format("needs_analysis")} .pl-card[data-id="{deal_id}"]')).to_be_visible(
            timeout=5_000
        )
    finally:
        for context in contexts:
            context.close()


def test_forecast_renders(page, served_demo):
    open_board(page, served_demo)
    page.get_by_role("button", name="Forecast", exact=True).click()
    expect(page.get_by_text("Win rate")).to_be_visible()
    expect(page.get_by_text("Weighted pipeline", exact=True).first).to_be_visible()
    expect(page.locator("canvas").first).to_be_visible()


@pytest.fixture
def hostile_deal(served_demo):
    ws = Workspace.open(served_demo.db, user="ana")
    deal = ws.store.insert(
        "deals", {"title": "<img src=x onerror=window.pwned=1>Evil", "stage": "qualification", "amount": 1}
    )
    ws.close()
    return deal


def test_hostile_title_is_text(page, served_demo, hostile_deal):
    open_board(page, served_demo)
    card = page.locator(f'.pl-card[data-id="{hostile_deal["id"]}"]')
    expect(card).to_contain_text("<img src=x onerror=window.pwned=1>Evil")
    assert page.evaluate("window.pwned === undefined")


def test_more_filters_and_quick_add_from_a_column(page, served_demo):
    open_board(page, served_demo)
    expect(page.get_by_text("Min amount")).to_have_count(0)  # built on first use
    page.get_by_role("button", name="More filters").click()
    expect(page.get_by_text("Min amount")).to_be_visible()
    page.locator(f"{COLUMN.format('proposal')} .pl-add").click()  # the column's "+"
    title = page.get_by_placeholder("e.g. Analytics — EMEA")
    title.fill("Added from the proposal column")
    page.get_by_role("button", name="Add deal", exact=True).click()
    deadline = time.monotonic() + 10
    rows = []
    while not rows and time.monotonic() < deadline:
        conn = sqlite3.connect(served_demo.db)
        rows = conn.execute("SELECT stage FROM deals WHERE title = 'Added from the proposal column'").fetchall()
        conn.close()
        time.sleep(0.2)
    assert rows == [("proposal",)]
    expect(title).to_have_value("")  # the form is ready for the next deal


def open_board_at_1400(page, server):
    page.set_viewport_size({"width": 1400, "height": 900})
    open_page(page, server, "pipeline")
    page.locator(COLUMN.format("qualification")).wait_for()


def open_deal(page, stage: str = "qualification"):
    """Click a card; the deal's form opens in a panel over the board, inside the window."""
    card, deal_id = first_card(page, stage)
    card.click()
    form = page.locator(".pl-deal-form")
    expect(form.get_by_text("Contacts on the deal")).to_be_visible(timeout=15_000)
    box = form.bounding_box()
    assert box["y"] >= 0 and box["y"] + 200 <= page.viewport_size["height"] and box["x"] + box["width"] <= 1400
    return form, deal_id


def pick(page, form, label: str, typed: str, choice: str) -> None:
    """Type into a searchable picker until the wanted choice is offered, then click it."""
    field = form.get_by_label(label, exact=True)
    field.click()
    field.fill("")
    field.press_sequentially(typed, delay=120)
    option = page.get_by_text(choice, exact=True)
    option.wait_for(timeout=15_000)
    option.click()


def choose(form, label: str, typed: str, choice: str) -> None:
    """Type part of a name into a picker searched on the server, then choose from its matches."""
    box = form.get_by_label(label, exact=True)
    box.click()
    box.press_sequentially(typed, delay=60)
    matches = form.locator("select").filter(has_text=choice).first
    expect(matches).to_be_visible(timeout=15_000)
    matches.select_option(label=choice)


def test_the_deal_screen_pickers_choose_an_owner_and_an_organization_and_save(page, served_demo):
    open_board_at_1400(page, served_demo)
    form, deal_id = open_deal(page)
    expect(form).not_to_contain_text("Version")
    ws = Workspace.open(served_demo.db, user="ana")
    try:
        org = ws.store.query(
            "SELECT id, name FROM organizations WHERE id != ? ORDER BY id LIMIT 1",
            [deal_row(served_demo, deal_id)["organization_id"] or 0],
        )[0]
    finally:
        ws.close()
    pick(page, form, "Owner", "Chlo", "Chloé Martin (chloe)")
    # pasted whole (no keystroke after it): the match is offered all the same, searched on the server
    form.get_by_label("Organization", exact=True).fill(org["name"])
    choice = f"{org['name']} (#{org['id']})"
    form.locator("select").filter(has_text=choice).first.select_option(label=choice)
    form.get_by_role("button", name="Save deal").click()
    row = wait_for_db(served_demo, deal_id, "organization_id", org["id"], timeout=15)
    assert (row["owner"], row["organization_id"]) == ("chloe", org["id"])
    # "(no organization)", and the owner's box emptied at once (select all, delete): nobody, no company
    form.locator("select").filter(has_text="(no organization)").first.select_option(label="(no organization)")
    owner = form.get_by_label("Owner", exact=True)
    owner.click()
    owner.press("Control+a")
    owner.press("Delete")
    form.get_by_role("button", name="Save deal").click()
    row = wait_for_db(served_demo, deal_id, "organization_id", None, timeout=15)
    assert (row["organization_id"], row["owner"]) == (None, None)
    # a contact found by part of the name, from the other picker
    ws = Workspace.open(served_demo.db, user="ana")
    try:
        person = ws.store.query("SELECT id, first_name, last_name, email FROM contacts ORDER BY id LIMIT 1")[0]
    finally:
        ws.close()
    label = f"{person['first_name']} {person['last_name']} <{person['email']}> (#{person['id']})"
    choose(form, "Contact", person["last_name"], label)
    form.get_by_role("button", name="Save deal").click()
    assert wait_for_db(served_demo, deal_id, "contact_id", person["id"], timeout=15)["contact_id"] == person["id"]
    # "nobody" cannot be chosen: the picker offers team members only
    field = form.get_by_label("Owner", exact=True)
    field.fill("nobody")
    expect(page.get_by_text("nobody", exact=True)).to_have_count(0)


def test_a_deal_edit_conflict_keeps_both_versions(page, served_demo):
    open_board_at_1400(page, served_demo)
    form, deal_id = open_deal(page, "needs_analysis")
    title = form.get_by_label("Title", exact=True)
    title.fill("Mine <b>typed</b>")
    ws = Workspace.open(served_demo.db, user="ben")
    try:
        row = ws.store.get("deals", deal_id)
        ws.store.update("deals", deal_id, {"title": "Theirs saved first"}, version=row["version"])
    finally:
        ws.close()
    form.get_by_role("button", name="Save deal").click()
    conflict = form.locator(".pl-conflict")
    expect(conflict).to_contain_text("Theirs saved first", timeout=15_000)
    expect(conflict).to_contain_text("Mine <b>typed</b>")  # what I typed, kept and shown as text
    expect(title).to_have_value("Mine <b>typed</b>")
    form.get_by_role("button", name="Overwrite with mine").click()
    assert wait_for_db(served_demo, deal_id, "title", "Mine <b>typed</b>", timeout=15)["title"] == "Mine <b>typed</b>"


def test_the_lost_column_is_within_a_1400_px_window_and_the_board_scrolls_while_dragging(page, served_demo):
    open_board_at_1400(page, served_demo)
    lost = page.locator(COLUMN.format("lost"))
    lost.wait_for()
    box = lost.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 1400
    # narrower: the board scrolls sideways when a dragged card nears its right edge
    page.set_viewport_size({"width": 900, "height": 900})
    board = page.locator(".pl-board")
    page.wait_for_function("el => el.scrollWidth > el.clientWidth", arg=board.element_handle(), timeout=15_000)
    card, _ = first_card(page, "qualification")
    source = card.bounding_box()
    edge = board.bounding_box()
    page.mouse.move(source["x"] + 20, source["y"] + 15)
    page.mouse.down()
    page.mouse.move(source["x"] + 40, source["y"] + 25, steps=3)
    near_edge = edge["x"] + edge["width"] - 12
    page.mouse.move(near_edge, source["y"] + 40, steps=8)
    # held near the edge (Chromium sends dragover as the pointer trembles), the board scrolls sideways
    deadline = time.monotonic() + 15
    scrolled = 0
    while not scrolled and time.monotonic() < deadline:
        for dx in (1, -1):
            page.mouse.move(near_edge + dx, source["y"] + 40)
        scrolled = board.evaluate("el => el.scrollLeft")
    assert scrolled > 0
    page.mouse.up()
