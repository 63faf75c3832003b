"""A write landing while the browser is still drawing a page: the page must come out whole.

The browser fetches the page's document first and reports it drawn (``document_ready``)
a moment later: seconds on a loaded machine. Until that report Panel drops the messages
of any change to the page, so a refresh in between (the session's poll seeing another
connection's write) left the browser's copy behind the server's: later messages named
components the browser never got (Bokeh's "reference pNNNN isn't known") and sections
never appeared (crm_workspace/web/session.py ``SessionGuard.start``). These tests hold
the browser's messages to the server from its document fetch on, make the write, give
the session's poll time for two turns, then let the browser's messages go.
"""

from __future__ import annotations

import json
import re

import pytest
from crm_workspace_lifecycle.model import LifecycleModel
from excel_workbooks import simple

from crm_workspace import Workspace
from crm_workspace.web.app import POLL_MS

pytestmark = pytest.mark.xdist_group("race")

REACHED = 'td.lc-reached[data-stage="{}"]'


class SlowDrawing:
    """Holds what the browser sends the server once it has fetched the document, until ``release``.

    Frames pass whole messages: holding starts at the first message the browser begins after
    the server's PULL-DOC-REPLY (a Bokeh message is a header frame, then its other frames).
    """

    def __init__(self, page):
        self.pulled = False
        self.holding = True
        self.held: list = []
        self.server = None
        page.route_web_socket(re.compile(r"/ws(\?|$)"), self._route)

    @staticmethod
    def _msgtype(frame) -> str | None:
        if not isinstance(frame, str) or '"msgtype"' not in frame:
            return None
        try:
            return json.loads(frame).get("msgtype")
        except ValueError:
            return None

    def _route(self, ws) -> None:
        server = self.server = ws.connect_to_server()

        def from_browser(frame) -> None:
            if self.holding and (self.held or (self.pulled and self._msgtype(frame))):
                self.held.append(frame)
            else:
                server.send(frame)

        def from_server(frame) -> None:
            if self._msgtype(frame) == "PULL-DOC-REPLY":
                self.pulled = True
            ws.send(frame)

        ws.on_message(from_browser)
        server.on_message(from_server)

    def wait_until_holding(self, page, timeout: float = 60) -> None:
        """Until the browser has the document and its next message (at least document_ready) is held."""
        for _ in range(int(timeout * 10)):
            if self.held:
                return
            page.wait_for_timeout(100)  # the route's handlers run while Playwright waits
        raise AssertionError("the browser never fetched the document")

    def release(self) -> None:
        self.holding = False
        for frame in self.held:
            self.server.send(frame)
        self.held = []


def open_while_a_write_lands(page, server, name: str, write) -> list[str]:
    """Open page ``name``, run ``write()`` while it is being drawn, let the poll turn; the console's errors."""
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_default_navigation_timeout(60_000)
    slow = SlowDrawing(page)
    page.goto(f"{server.url}?page={name}")
    slow.wait_until_holding(page)
    write()
    page.wait_for_timeout(2.5 * POLL_MS)  # the session's poll has had two turns: the drawing is what is slow
    slow.release()
    page.wait_for_selector(f"body[data-ready='{name}']", timeout=60_000)
    return errors


def unknown(errors: list[str]) -> list[str]:
    return [e for e in errors if "isn't known" in e or "not in the document" in e]


def test_the_lifecycle_page_comes_out_whole_and_shows_the_write(page, served_demo):
    other = Workspace.open(served_demo.db, user="ana")

    def write():
        lead = other.query("SELECT id FROM contacts WHERE lifecycle_stage = 'lead' ORDER BY id LIMIT 1")[0]["id"]
        other.store.update("contacts", lead, {"lifecycle_stage": "advocate"})

    try:
        errors = open_while_a_write_lands(page, served_demo, "lifecycle", write)
        funnel = LifecycleModel.last_year(other).funnel()  # what the page shows
        advocates = int(funnel.loc[funnel["stage"] == "advocate", "reached"].iloc[0])
    finally:
        other.close()
    page.get_by_text("Stuck longest").wait_for(timeout=60_000)  # a section built after the page was shown
    page.wait_for_function(
        "() => { const n = []; const walk = r => { r.querySelectorAll('*').forEach(e => {"
        " if (e.tagName === 'CANVAS') n.push(e); if (e.shadowRoot) walk(e.shadowRoot); }); };"
        " walk(document); return n.filter(c => c.width > 0).length >= 5; }",
        timeout=60_000,
    )
    # the write landed before the page was drawn and is not lost: the funnel counts it
    page.locator(REACHED.format("advocate")).filter(has_text=re.compile(f"^{advocates:,}$")).wait_for(timeout=45_000)
    assert not unknown(errors), errors
    assert page.locator(".alert-danger").count() == 0


def test_the_lead_score_page_comes_out_whole(page, served_demo):
    other = Workspace.open(served_demo.db, user="ana")

    def write():
        other.store.update("contacts", 1, {"notes": "called back while the page was drawn"})

    try:
        errors = open_while_a_write_lands(page, served_demo, "scoring", write)
    finally:
        other.close()
    page.locator(".score-model-card").get_by_text("Model v1").wait_for(timeout=60_000)
    page.get_by_role("button", name="Retrain model").wait_for()
    page.get_by_text("Add or edit a rule").wait_for(timeout=60_000)  # built after the page was shown
    assert not unknown(errors), errors
    assert page.locator(".alert-danger").count() == 0


class ReadyHeldBack(SlowDrawing):
    """Holds back only the browser's report that it has drawn the page (``document_ready``), until ``release``."""

    def _route(self, ws) -> None:
        server = self.server = ws.connect_to_server()
        message: list = []

        def from_browser(frame) -> None:
            message.append(frame)  # a header frame, metadata, content, then the header's num_buffers
            if len(message) < 3 + json.loads(message[0]).get("num_buffers", 0):
                return
            frames = message[:]
            message.clear()
            if isinstance(frames[2], str) and "document_ready" in frames[2]:
                self.held.extend(frames)
            else:
                for each in frames:
                    server.send(each)

        ws.on_message(from_browser)
        server.on_message(ws.send)


def test_an_upload_before_the_page_reports_drawn_is_answered(page, served_demo, tmp_path):
    """Panel counted the session unconnected until ``document_ready`` and dropped the server's reply to
    anything done before it: the workbook was read and the page never showed it (a CI failure)."""
    book = simple(tmp_path / "leads.xlsx", ["First name", "Last name", "E-mail"], [["Zoë", "Ünal", "zoe@example.org"]])
    held = ReadyHeldBack(page)
    page.goto(f"{served_demo.url}?page=excel")
    page.get_by_text("Upload a spreadsheet").wait_for(timeout=60_000)
    held.wait_until_holding(page)
    page.locator("input[type=file]").set_input_files(str(book))
    page.get_by_text("header on row").wait_for(timeout=30_000)
    page.get_by_text("Zoë", exact=True).first.wait_for()
    held.release()
    page.wait_for_selector("body[data-ready='excel']", timeout=60_000)  # the page's own load still completes
