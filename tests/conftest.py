"""Shared fixtures: temporary workspaces, a served app, a real Chromium."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import CHROMIUM, CHROMIUM_ARGS, Server, free_port, open_page  # noqa: F401 - re-exported

from crm_workspace.testing import demo_workspace, make_workspace, smtpd, workspace  # noqa: F401 - fixtures


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One standard demo database per test session; copy it, never write to it."""
    path = tmp_path_factory.mktemp("template") / "demo.db"
    make_workspace(path, demo=True).close()
    return path


@pytest.fixture
def demo_db(demo_template: Path, tmp_path: Path) -> Path:
    """A private copy of the demo database for one test."""
    path = tmp_path / "crm.db"
    shutil.copy(demo_template, path)
    return path


@pytest.fixture(scope="module")
def served_demo(tmp_path_factory: pytest.TempPathFactory, demo_template: Path) -> Iterator[Server]:
    """The demo workspace served for one test module (tests may write to it), ticking as served.

    The demo is settled up to demo_today() (its time rule and NPS survey already ran), so
    the background tick writes only what is genuinely due (its first run, a second after
    the start: a few audit and outbox rows), and the pages take a refresh from that or
    another connection's write at any moment, even while the browser is still drawing
    them (tests/browser/test_load_race.py, tests/browser/test_excel.py).
    """
    path = tmp_path_factory.mktemp("served") / "crm.db"
    shutil.copy(demo_template, path)
    server = Server(path)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (.ci/run does)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, request: pytest.FixtureRequest):
    """A fresh browser context and page; fails the test on any uncaught page error.

    The page's console is kept for the failure report (tests/browser/conftest.py).
    """
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    request.node.browser_console = console = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.set_default_timeout(15_000)
    yield page
    context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"
