"""dashboards/: every module has a file, and a workspace that needs a login is not shown by `panel serve`."""

from __future__ import annotations

import importlib
import sqlite3
import sys
from pathlib import Path

import pytest

from crm_workspace.testing import make_workspace

ROOT = Path(__file__).resolve().parents[1]
DASHBOARDS = ROOT / "dashboards"


@pytest.fixture
def page_module():
    sys.path.insert(0, str(DASHBOARDS))
    try:
        yield importlib.import_module("_page")
    finally:
        sys.path.remove(str(DASHBOARDS))
        sys.modules.pop("_page", None)


def test_one_file_per_builtin_module_and_one_for_the_app(tmp_path: Path):
    ws = make_workspace(tmp_path / "crm.db")
    pages = {p.plugin: p.name for p in reversed(ws.pages()) if p.plugin != "core"}  # a module's first page
    files = {p.stem for p in DASHBOARDS.glob("*.py") if not p.stem.startswith("_")}
    assert files == set(pages) | {"app"}
    for plugin, page in pages.items():
        assert f'module_page("{page}")' in (DASHBOARDS / f"{plugin}.py").read_text()


def test_login_required_workspace_is_refused_without_a_login(tmp_path: Path, page_module):
    ws = make_workspace(tmp_path / "crm.db")
    assert page_module.login_refusal(ws.path) is None  # no passwords: open, like `crm serve`
    with sqlite3.connect(ws.path) as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(users)")}
        if "password_hash" not in columns:
            pytest.skip("this core has no passwords")
        conn.execute("INSERT INTO users (username, role, active, password_hash) VALUES ('ana', 'admin', 1, 'x')")
    refusal = page_module.login_refusal(ws.path)
    assert refusal is not None and "crm serve" in refusal.object
    ws.close()
