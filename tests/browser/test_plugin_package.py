"""`crm plugins new` → `pip install -e` → `crm plugins list` shows it → its page is served.

The install goes into a throwaway venv layered over the project's venv (a
``.pth`` file adds the project's site-packages), so the shared venv is never
changed and nothing is downloaded (hatchling is a dev dependency; no build
isolation).
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from helpers import Server

CRM = str(Path(sys.executable).with_name("crm"))


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=dict(os.environ))
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The scaffolded lead-scoring plugin, `pip install -e`'d into a throwaway venv over the project's."""
    tmp = tmp_path_factory.mktemp("scaffold")
    created = run(CRM, "plugins", "new", "lead-scoring", "--dir", str(tmp))
    package = tmp / "crm-workspace-lead-scoring"
    assert str(package) in created.stdout
    venv = tmp / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", str(venv))
    python = venv / "bin" / "python"
    site_dir = Path(run(str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip())
    parent = sysconfig.get_paths()["purelib"]
    (site_dir / "_crm_parent.pth").write_text(f"import site; site.addsitedir({parent!r})\n")
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps"]
    run(*pip, "--no-build-isolation", "--no-index", "-e", str(package))
    db = tmp / "crm.db"
    run(str(python), "-m", "crm_workspace", "--db", str(db), "--user", "ana", "init")  # ana, the first admin, serves
    return {"package": package, "python": python, "db": db}


@pytest.mark.slow
def test_installed_plugin_is_listed(installed: dict):
    listing = run(str(installed["python"]), "-m", "crm_workspace", "--db", str(installed["db"]), "plugins", "list")
    line = next(line for line in listing.stdout.splitlines() if line.startswith("lead-scoring"))
    assert "enabled" in line and "crm-workspace-lead-scoring" in line
    assert "migrations" in line and "dashboards" in line
    # the project's own venv is untouched: it does not see the plugin
    assert "lead-scoring" not in run(CRM, "--db", str(installed["db"]), "plugins", "list").stdout


@pytest.mark.slow
def test_scaffolded_package_tests_pass(installed: dict):
    result = subprocess.run(
        [str(installed["python"]), "-m", "pytest", "-q", "-p", "no:cacheprovider", str(installed["package"] / "tests")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=installed["package"],
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def plugin_server(python: Path, db: Path) -> Server:
    """``crm serve`` run by the throwaway venv's interpreter (which sees the installed plugin)."""
    return Server(
        db, command=lambda port: [str(python), "-m", "crm_workspace", "--db", str(db), "serve", "--port", str(port)]
    )


def test_installed_plugin_page_is_served(installed: dict, page):
    server = plugin_server(installed["python"], installed["db"])
    try:
        page.goto(f"{server.url}?page=lead-scoring")
        page.get_by_role("button", name="Home").wait_for(timeout=60_000)  # first render of a fresh server
        assert page.get_by_role("button", name="Lead scoring").is_visible()
        page.get_by_text("10 contacts with the most activities").wait_for()
        page.get_by_role("heading", name="Lead scoring").wait_for()
    finally:
        server.stop()
