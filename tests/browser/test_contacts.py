"""Contacts in a real Chromium: search as you type, record page and timeline, log a call,
a conflicting edit from two browsers, merging two duplicates, my tasks."""

from __future__ import annotations

import re

from crm_workspace_contacts import model
from crm_workspace_contacts.search import search_contacts
from helpers import Server, open_page
from playwright.sync_api import expect

from crm_workspace import Workspace
from crm_workspace.testing import make_workspace

SEARCH = "name, email, phone, organization…"


def demo_contact(server, where: str = "first_name = 'José'") -> dict:
    ws = Workspace.open(server.db, builtins_only=True)
    try:
        return ws.store.query(f"SELECT * FROM contacts WHERE {where} ORDER BY id LIMIT 1")[0]
    finally:
        ws.close()


def open_record(page, server, contact: dict) -> None:
    open_page(page, server, "contacts")
    page.get_by_placeholder(SEARCH).fill(contact["email"])
    expect(page.get_by_text("1 contacts —")).to_be_visible()
    cell = page.locator("tr.lt-row td", has_text=contact["last_name"]).first
    expect(cell).to_be_visible()
    cell.click()
    expect(page.locator("h2", has_text=f"{contact['first_name']} {contact['last_name']}")).to_be_visible()


def test_search_as_you_type_finds_a_demo_contact(page, served_demo):
    contact = demo_contact(served_demo)
    ws = Workspace.open(served_demo.db, builtins_only=True)
    try:
        expected = len(search_contacts(ws.store, "jos", 50))
    finally:
        ws.close()
    open_page(page, served_demo, "contacts")
    box = page.get_by_placeholder(SEARCH)
    expect(box).to_be_visible()
    box.press_sequentially("jos", delay=30)  # no Enter: results follow the keystrokes
    expect(page.get_by_text(f"{expected} contacts —")).to_be_visible()
    expect(page.locator("tr.lt-row td", has_text=contact["last_name"]).first).to_be_visible()
    expect(page.locator("tr.lt-row td", has_text="José").first).to_be_visible()
    rows = page.locator("tr.lt-row")
    expect(rows.first).to_be_visible()
    for text in rows.all_inner_texts():
        assert "jos" in text.lower() or "José" in text
    touched = page.locator("td[data-field='last_touched'] time.crm-when")  # "3 days ago"
    expect(touched.first).to_be_visible()
    assert re.fullmatch(r"\d+ \w+s? ago|just now|\d{1,2} \w{3} \d{4}", touched.first.inner_text())
    assert touched.first.get_attribute("title")  # the exact time on hover
    for text in page.locator("td[data-field='last_touched']").all_inner_texts():
        assert not re.search(r"\d{4}-\d\d-\d\d", text)


def test_record_page_timeline_and_log_a_call(page, served_demo):
    contact = demo_contact(served_demo, "email IS NOT NULL AND id IN (SELECT contact_id FROM activities)")
    ws = Workspace.open(served_demo.db, builtins_only=True)
    try:
        subject = ws.store.scalar(
            "SELECT subject FROM activities WHERE contact_id = ? ORDER BY occurred_at DESC LIMIT 1", [contact["id"]]
        )
    finally:
        ws.close()
    open_record(page, served_demo, contact)
    expect(page.locator(".crm-tl-activity", has_text=subject).first).to_be_visible()
    # two clicks: the kind, then Save
    page.get_by_role("button", name="Log call", exact=True).click()
    page.get_by_role("button", name="Save call").click()
    newest = page.locator(".crm-tl").first
    expect(newest).to_contain_text("Call")
    expect(newest).to_contain_text("ana")
    ws = Workspace.open(served_demo.db, builtins_only=True)
    try:
        logged = ws.store.query(
            "SELECT kind, owner FROM activities WHERE contact_id = ? ORDER BY id DESC LIMIT 1", [contact["id"]]
        )
    finally:
        ws.close()
    assert logged == [{"kind": "call", "owner": "ana"}]


def test_the_timeline_names_an_edited_field_by_its_label(page, served_demo):
    contact = demo_contact(
        served_demo, "email IS NOT NULL AND id > 250 AND coalesce(stakeholder_type, '') != 'partner'"
    )
    ws = Workspace.open(served_demo.db, user="ana")
    try:
        ws.store.update("contacts", contact["id"], {"first_name": "Renamed", "stakeholder_type": "partner"})
    finally:
        ws.close()
    open_record(page, served_demo, {**contact, "first_name": "Renamed"})
    edit = page.locator(".crm-tl-edit").first
    expect(edit).to_contain_text(f"First name: {contact['first_name']} → Renamed")
    expect(edit).to_contain_text("Stakeholder type:")
    expect(edit).not_to_contain_text("first_name")
    expect(edit).not_to_contain_text("stakeholder_type")
    expect(edit.locator(".meta")).to_contain_text(re.compile(r"just now|ago"))
    expect(edit.locator(".meta time.crm-when")).to_have_attribute("title", re.compile(r"\d{4} \d\d:\d\d UTC$"))


def test_edit_from_two_browsers_shows_a_conflict(page, browser, served_demo):
    contact = demo_contact(served_demo, "email IS NOT NULL AND id > 100")
    other_context = browser.new_context(viewport={"width": 1400, "height": 900})
    other = other_context.new_page()
    other.set_default_timeout(15_000)
    try:
        for p in (page, other):
            open_record(p, served_demo, contact)
            p.get_by_role("button", name="Edit", exact=True).click()
            expect(p.get_by_label("Title")).to_be_visible()
        page.get_by_label("Title").fill("Chief First Saver")
        page.get_by_role("button", name="Save", exact=True).click()
        expect(page.get_by_text("Chief First Saver").first).to_be_visible()
        other.get_by_label("Title").fill("Second <b>Saver</b>")
        other.get_by_role("button", name="Save", exact=True).click()
        expect(other.get_by_text("changed by someone else").first).to_be_visible()
        conflict = other.locator(".crm-conflict")
        expect(conflict).to_contain_text("Chief First Saver")  # theirs
        expect(conflict).to_contain_text("Second <b>Saver</b>")  # mine, shown as text
    finally:
        other_context.close()
    assert demo_contact(served_demo, f"id = {contact['id']}")["title"] == "Chief First Saver"


def test_merge_two_duplicates_and_undo(page, served_demo):
    before = demo_contact(served_demo, "1")  # noqa: F841 - the database is reachable
    open_page(page, served_demo, "duplicates")
    expect(page.get_by_text("same phone").first).to_be_visible()
    page.get_by_role("button", name="Review & merge").first.click()
    page.get_by_role("button", name="Merge", exact=True).click()
    expect(page.get_by_text("Merged (merge ").first).to_be_visible()
    expect(page.get_by_role("button", name="Undo merge").first).to_be_visible()
    ws = Workspace.open(served_demo.db, builtins_only=True)
    try:
        log = ws.store.query("SELECT loser_id, status FROM merge_log ORDER BY id DESC LIMIT 1")[0]
        assert log["status"] == "merged"
        assert not ws.store.query("SELECT 1 FROM contacts WHERE id = ?", [log["loser_id"]])
    finally:
        ws.close()
    page.get_by_role("button", name="Undo merge").first.click()
    expect(page.get_by_text("— undone").first).to_be_visible()
    ws = Workspace.open(served_demo.db, builtins_only=True)
    try:
        assert ws.store.query("SELECT 1 FROM contacts WHERE id = ?", [log["loser_id"]])
    finally:
        ws.close()


def test_the_list_scrolls_in_its_box_under_its_headings_and_sorts_by_a_heading(page, served_demo):
    """A page of 50 contacts scrolls inside the list's box (crm_workspace/web/list_table.py): the last
    contact of the page comes into view with the headings still above it; a heading's click sorts."""
    ws = Workspace.open(served_demo.db, builtins_only=True)
    try:
        last = ws.store.query("SELECT email FROM contacts ORDER BY last_name, first_name, id LIMIT 1 OFFSET 49")[0]
    finally:
        ws.close()
    open_page(page, served_demo, "contacts")
    expect(page.get_by_text("showing 1–50")).to_be_visible(timeout=30_000)
    rows = page.locator("tr.lt-row")
    expect(rows.first).to_be_visible()
    assert rows.count() == 50
    last_cell = page.locator("td[data-field='email']", has_text=last["email"])
    box = page.locator(".lt-wrap", has=page.locator("tr.lt-row")).first
    heading = page.locator("th[data-field='email']")

    def inside(locator) -> bool:  # drawn within the list's box, not cut off below it
        outer, inner = box.bounding_box(), locator.bounding_box()
        return outer["y"] <= inner["y"] and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + 1

    assert not inside(last_cell)
    box.evaluate("box => { box.scrollTop = box.scrollHeight }")
    assert inside(last_cell) and inside(heading), "the last row scrolled into the box, the headings kept above"
    heading.click()
    expect(heading).to_have_attribute("aria-sort", "ascending")
    initials = [e[0].casefold() for e in page.locator("td[data-field='email']").all_inner_texts() if e]
    assert len(initials) > 10 and initials == sorted(initials), "the page's rows in the order of the heading"
    heading.click()
    expect(heading).to_have_attribute("aria-sort", "descending")
    initials = [e[0].casefold() for e in page.locator("td[data-field='email']").all_inner_texts() if e]
    assert initials == sorted(initials, reverse=True)


def test_my_tasks_marks_ticked_tasks_done_and_opens_a_task_s_contact(page, tmp_path):
    ws = make_workspace(tmp_path / "crm.db", user="ana")
    ada = ws.store.insert("contacts", {"first_name": "Ada", "last_name": "Lovelace"})["id"]
    acme = ws.store.insert("organizations", {"name": "Acme"})["id"]
    for subject, table, record in (("Call <b>back</b>", "contacts", ada), ("Send offer", "contacts", ada)):
        model.log_activity(ws, table, record, "task", subject=subject, due_at="2020-01-01T09:00:00Z")
    model.log_activity(ws, "organizations", acme, "task", subject="Renewal", due_at="2020-01-02T09:00:00Z")
    ws.close()
    server = Server(tmp_path / "crm.db")
    try:
        page.set_default_timeout(60_000)
        page.goto(server.url + "?page=tasks")
        rows = page.locator("tr.lt-row")
        expect(rows).to_have_count(3)
        expect(rows.first.locator("td[data-field='subject']")).to_have_text("Call <b>back</b>")  # text, not markup
        expect(page.get_by_text("3 overdue")).to_be_visible()
        for subject in ("Send offer", "Renewal"):
            rows.filter(has_text=subject).get_by_role("checkbox").check()
        page.get_by_role("button", name="Mark done").click()
        page.get_by_text("2 tasks marked done").wait_for()
        expect(rows).to_have_count(1)
        check = Workspace.open(tmp_path / "crm.db", builtins_only=True)
        try:
            done = {r["subject"]: r["done"] for r in check.store.query("SELECT subject, done FROM activities")}
        finally:
            check.close()
        assert done == {"Call <b>back</b>": 0, "Send offer": 1, "Renewal": 1}
        rows.first.locator("td[data-field='with']").click()
        expect(page).to_have_url(re.compile(rf"[?&]id={ada}\b"))
        expect(page.locator("h2", has_text="Ada Lovelace")).to_be_visible()
    finally:
        server.stop()


def test_an_organization_lists_its_people_and_a_click_opens_one(page, served_demo):
    person = demo_contact(served_demo, "organization_id IS NOT NULL AND first_name IS NOT NULL")
    open_page(page, served_demo, f"organizations&id={person['organization_id']}")
    people = page.locator("tr.lt-row")
    expect(people.first).to_be_visible()
    people.filter(has_text=person["email"]).locator("td[data-field='name']").click()
    expect(page).to_have_url(re.compile(rf"\?page=contacts&id={person['id']}$"))
    expect(page.locator("h2", has_text=f"{person['first_name']} {person['last_name']}")).to_be_visible()
