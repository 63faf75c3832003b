"""`panel serve` on the files in dashboards/ and on an analyst's notebook."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import free_port

ROOT = Path(__file__).resolve().parents[2]
PANEL = str(Path(sys.executable).with_name("panel"))
#: a fresh `panel serve` process renders its first session slowly on a busy 2-core CI machine
FIRST_RENDER_MS = 60_000
APPS = ["dashboards/app.py", "dashboards/pipeline.py", "dashboards/contacts.py", "notebooks/02-analysis.ipynb"]


class PanelServe:
    def __init__(self, db: Path, files: list[str]):
        self.port = free_port()
        self.url = f"http://localhost:{self.port}"
        self.log = db.with_suffix(".panel.log")
        self.process = subprocess.Popen(
            [
                PANEL,
                "serve",
                *[str(ROOT / f) for f in files],
                "--port",
                str(self.port),
                "--address",
                "127.0.0.1",
                "--allow-websocket-origin",
                f"localhost:{self.port}",
            ],
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            env={**os.environ, "CRM_DB": str(db), "CRM_USER": "ana"},
            cwd=db.parent,
        )

    def get(self, path: str, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"panel serve exited: {self.log.read_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/{path}", timeout=30) as response:
                    return response.status
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"no answer from {path}: {self.log.read_text()}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, demo_template: Path) -> Iterator[PanelServe]:
    db = tmp_path_factory.mktemp("panel-serve") / "crm.db"
    shutil.copy(demo_template, db)
    server = PanelServe(db, APPS)
    try:
        server.get("app", timeout=120)  # up and serving before any test starts
    except BaseException:
        server.stop()
        raise
    yield server
    server.stop()


def test_every_file_answers(served: PanelServe):
    for name in ("app", "pipeline", "contacts", "02-analysis"):
        assert served.get(name) == 200, name


def test_whole_workspace_file_renders_the_app(served: PanelServe, page):
    page.goto(f"{served.url}/app?page=contacts")
    page.get_by_role("button", name="Home").wait_for(timeout=FIRST_RENDER_MS)
    page.get_by_role("button", name="Pipeline").wait_for()
    page.get_by_text(re.compile(r"^[\d,]+ contacts")).first.wait_for(timeout=FIRST_RENDER_MS)  # its total line


def test_module_file_renders_only_that_module(served: PanelServe, page):
    page.goto(f"{served.url}/contacts")
    page.get_by_text("crm-workspace · Contacts").first.wait_for(timeout=FIRST_RENDER_MS)
    page.get_by_text(re.compile(r"^[\d,]+ contacts")).first.wait_for(timeout=FIRST_RENDER_MS)  # its total line
    assert page.get_by_role("button", name="Home").count() == 0  # no app navigation: just the module


def test_analysis_notebook_serves_as_a_dashboard(served: PanelServe, page):
    page.goto(f"{served.url}/02-analysis")
    page.get_by_role("heading", name="CRM analysis").wait_for(timeout=FIRST_RENDER_MS)
    page.get_by_text("Top 20% of customers:", exact=False).first.wait_for()
    page.locator("canvas").first.wait_for()  # Bokeh plots drew
