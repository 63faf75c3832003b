"""`crm plugins new`: the package it writes, its name rules, its hookimpls working in process.

The full path (pip install -e → crm plugins list → served page) is in
tests/browser/test_plugin_package.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from crm_workspace.cli import cli
from crm_workspace.cli.scaffold import Names, new_plugin

ROOT = Path(__file__).resolve().parents[1]
CRM = str(Path(sys.executable).with_name("crm"))


def run(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_scaffold_writes_a_complete_package(tmp_path: Path):
    root = new_plugin("lead-scoring", tmp_path)
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert files == [
        "README.md",
        "crm_workspace_lead_scoring/__init__.py",
        "crm_workspace_lead_scoring/views.py",
        "pyproject.toml",
        "tests/test_lead_scoring.py",
    ]
    pyproject = (root / "pyproject.toml").read_text()
    assert '[project.entry-points.crm_workspace]\nlead-scoring = "crm_workspace_lead_scoring"' in pyproject
    init = (root / "crm_workspace_lead_scoring/__init__.py").read_text()
    assert "import panel" not in init  # the CLI must stay fast: Panel only inside the view
    for hook in ("crm_migrations", "crm_dashboards", "crm_metrics", "crm_data_views"):
        assert f"def {hook}(" in init
    assert "crm_workspace.testing" in (root / "tests/test_lead_scoring.py").read_text()
    for path in root.rglob("*.py"):
        compile(path.read_text(), str(path), "exec")


def test_scaffold_refuses_bad_names_and_existing_folders(tmp_path: Path):
    runner = CliRunner()
    result = runner.invoke(cli, ["plugins", "new", "Lead Scoring!", "--dir", str(tmp_path)])
    assert result.exit_code != 0 and "invalid plugin name 'Lead Scoring!'" in result.output
    assert runner.invoke(cli, ["plugins", "new", "notes", "--dir", str(tmp_path)]).exit_code == 0
    again = runner.invoke(cli, ["plugins", "new", "notes", "--dir", str(tmp_path)])
    assert again.exit_code != 0 and "already exists" in again.output
    assert Names.from_name("crm-workspace-Deal_Health").package == "crm_workspace_deal_health"


def test_scaffolded_plugin_registers_in_process(tmp_path: Path):
    """The generated hookimpls work when registered directly (as its own test does)."""
    import importlib

    root = new_plugin("deal-health", tmp_path)
    sys.path.insert(0, str(root))
    try:
        module = importlib.import_module("crm_workspace_deal_health")
        from crm_workspace.testing import assert_no_plugin_errors, make_workspace, page_text

        ws = make_workspace(tmp_path / "crm.db", demo=True, contacts=30, builtins=False, plugins=(module,))
        assert "deal_health_notes" in ws.store.db.table_names()
        assert "deal-health" in ws.views()["name"].str.split(".").str[0].tolist()
        assert len(ws.df("deal-health.top_contacts", limit=3)) == 3
        assert "10 contacts with the most activities" in page_text(ws.dashboard("deal-health"))
        assert_no_plugin_errors(ws)
        ws.close()
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m.startswith("crm_workspace_deal_health")]:
            del sys.modules[name]
