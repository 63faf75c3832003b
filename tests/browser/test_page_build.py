"""A page's content is built after the server has answered its address (crm_workspace/web/app.py ``App._fill``).

The browser spends ~0.6 s loading and compiling the scripts before it asks for the
page's document; the server builds the page's content in that time instead of before
answering. The test installs a plugin (the way pip does) whose page takes 3 s to build:
the address is answered well before, and the page still arrives whole in the browser.
(In a notebook the page is built at once: tests/test_app_shell.py.)
"""

from __future__ import annotations

import http.client
import os
import time

import pytest
from helpers import Server, install_plugin
from playwright.sync_api import expect

from crm_workspace.testing import make_workspace

pytestmark = pytest.mark.xdist_group("page_build")

BUILD_SECONDS = 3.0
PLUGIN = f'''
"""A page that takes {BUILD_SECONDS} s to build."""
import time

import panel as pn

from crm_workspace import Page, hookimpl


def slow_view(workspace):
    time.sleep({BUILD_SECONDS})
    return pn.pane.Markdown("Slow page built for " + workspace.user)


@hookimpl
def crm_dashboards(workspace):
    return [Page("slow", "Slow page", view=slow_view, icon="clock", order=500)]
'''


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("page_build")
    site = install_plugin(root / "site", "crm_slow_page", PLUGIN, {"slow-page": "crm_slow_page"})
    db = root / "crm.db"
    make_workspace(db).close()
    server = Server(db, env={"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])})
    yield server
    server.stop()


def answered_in(port: int, path: str) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        start = time.perf_counter()
        conn.request("GET", path)
        response = conn.getresponse()
        assert response.status == 200
        assert b"<html" in response.read()
        return time.perf_counter() - start
    finally:
        conn.close()


def test_the_address_is_answered_before_the_page_is_built(served):
    # the frame alone: were the page built first, the answer would take its 3 s
    assert answered_in(served.port, "/?page=slow") < BUILD_SECONDS


def test_the_page_built_after_the_answer_arrives_whole(served, page):
    page.goto(served.url + "?page=slow")
    expect(page.get_by_text("Slow page built for ana")).to_be_visible(timeout=60_000)
    page.wait_for_function("document.body.dataset.ready === 'slow'", timeout=60_000)
    expect(page.get_by_role("button", name="Slow page", exact=True)).to_be_visible()
