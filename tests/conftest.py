"""Shared fixtures: temporary workspaces, a served app, a real Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from crm_workspace.testing import demo_workspace, make_workspace, workspace  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parents[1]
CRM = str(Path(sys.executable).with_name("crm"))
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``crm serve`` in a subprocess on a free loopback port."""

    def __init__(self, db: Path, env: dict[str, str] | None = None, args: tuple[str, ...] = ()):
        self.db = db
        self.port = free_port()
        self.url = f"http://localhost:{self.port}/"
        self.log = db.with_suffix(".serve.log")
        full_env = {**os.environ, "CRM_USER": "ana", **(env or {})}
        self.process = subprocess.Popen(
            [CRM, "--db", str(db), "serve", "--port", str(self.port), *args],
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            env=full_env,
        )
        self._wait()

    def _wait(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"crm serve exited: {self.log.read_text()}")
            try:
                with urllib.request.urlopen(self.url, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"crm serve did not answer in {timeout} s: {self.log.read_text()}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture(scope="module")
def served_demo(tmp_path_factory: pytest.TempPathFactory, demo_template: Path) -> Iterator[Server]:
    """The demo workspace served for one test module (tests may write to it)."""
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
def page(browser):
    """A fresh browser context and page; fails the test on any uncaught page error."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_default_timeout(15_000)
    yield page
    context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


def open_page(page, server: Server, name: str = "home") -> None:
    """Open a page of the served app and wait for Panel to render it."""
    page.goto(f"{server.url}?page={name}")
    page.get_by_role("button", name="Home").wait_for()
