"""A served session in a real Chromium loses its rights within a second of its user's removal."""

from __future__ import annotations

import shutil
import sqlite3
import time

from helpers import Server, open_page
from playwright.sync_api import expect

from crm_workspace import Workspace

COLUMN = 'section.pl-column[data-stage="{}"]'


def stage_of(db, deal_id: int) -> str:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT stage FROM deals WHERE id = ?", [deal_id]).fetchone()[0]
    finally:
        conn.close()


def wait_for_stage(db, deal_id: int, stage: str, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while stage_of(db, deal_id) != stage and time.monotonic() < deadline:
        time.sleep(0.2)
    return stage_of(db, deal_id)


def test_a_removed_users_open_session_can_no_longer_move_a_card(page, tmp_path, demo_template):
    db = tmp_path / "crm.db"
    shutil.copy(demo_template, db)
    server = Server(db, env={"CRM_USER": "ben"})  # a member
    try:
        page.set_viewport_size({"width": 1900, "height": 900})
        open_page(page, server, "pipeline")
        cards = page.locator(f"{COLUMN.format('needs_analysis')} .pl-card")
        cards.first.wait_for()
        first, second = (int(cards.nth(i).get_attribute("data-id")) for i in (0, 1))
        cards.first.focus()
        page.keyboard.press("ArrowRight")
        assert wait_for_stage(db, first, "proposal") == "proposal"  # ben may move cards

        card = page.locator(f'.pl-card[data-id="{second}"]')
        card.focus()
        admin = Workspace.open(db, user="ana", builtins_only=True)
        audit_before = admin.store.scalar("SELECT max(id) FROM audit_log")
        admin.store.delete("users", "ben")
        admin.close()
        page.wait_for_timeout(2500)  # the session re-checks its user once a second
        page.keyboard.press("ArrowRight")  # the removed user tries to move the focused card
        if card.count():
            card.focus()
            page.keyboard.press("ArrowRight")
        page.wait_for_timeout(2000)
        assert stage_of(db, second) == "needs_analysis"
        conn = sqlite3.connect(db)
        written = conn.execute("SELECT count(*) FROM audit_log WHERE id > ? AND user = 'ben'", [audit_before])
        assert written.fetchone()[0] == 0
        conn.close()
        expect(page.get_by_text("No access")).to_be_visible()  # and nothing else: no data shown
        expect(page.locator(".pl-card")).to_have_count(0)
    finally:
        server.stop()
