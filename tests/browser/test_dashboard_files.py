"""`panel serve` on the files in dashboards/ and on an analyst's notebook."""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import Server

ROOT = Path(__file__).resolve().parents[2]
PANEL = str(Path(sys.executable).with_name("panel"))
#: a fresh `panel serve` process renders its first session slowly on a busy 2-core CI machine
FIRST_RENDER_MS = 60_000
APPS = ["dashboards/app.py", "dashboards/pipeline.py", "dashboards/contacts.py", "notebooks/02-analysis.ipynb"]


def panel_serve(files: list[str]):
    """The argv of `panel serve` on ``files`` (for helpers.Server)."""

    def argv(port: int) -> list[str]:
        return [
            PANEL,
            "serve",
            *[str(ROOT / f) for f in files],
            "--port",
            str(port),
            "--address",
            "127.0.0.1",
            "--allow-websocket-origin",
            f"localhost:{port}",
        ]

    return argv


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, demo_template: Path) -> Iterator[Server]:
    db = tmp_path_factory.mktemp("panel-serve") / "crm.db"
    shutil.copy(demo_template, db)
    server = Server(db, command=panel_serve(APPS), ready_path="app")  # up before any test starts
    yield server
    server.stop()


def test_every_file_answers(served: Server):
    for name in ("app", "pipeline", "contacts", "02-analysis"):
        assert served.get(name) == 200, name


def test_whole_workspace_file_renders_the_app(served: Server, page):
    page.goto(f"{served.url}app?page=contacts")
    page.get_by_role("button", name="Home").wait_for(timeout=FIRST_RENDER_MS)
    page.get_by_role("button", name="Pipeline").wait_for()
    page.get_by_text(re.compile(r"^[\d,]+ contacts")).first.wait_for(timeout=FIRST_RENDER_MS)  # its total line


def test_module_file_renders_only_that_module(served: Server, page):
    page.goto(f"{served.url}contacts")
    page.get_by_text("crm-workspace · Contacts").first.wait_for(timeout=FIRST_RENDER_MS)
    page.get_by_text(re.compile(r"^[\d,]+ contacts")).first.wait_for(timeout=FIRST_RENDER_MS)  # its total line
    assert page.get_by_role("button", name="Home").count() == 0  # no app navigation: just the module


def test_analysis_notebook_serves_as_a_dashboard(served: Server, page):
    page.goto(f"{served.url}02-analysis")
    page.get_by_role("heading", name="CRM analysis").wait_for(timeout=FIRST_RENDER_MS)
    page.get_by_text("Top 20% of customers:", exact=False).first.wait_for()
    page.locator("canvas").first.wait_for()  # Bokeh plots drew
