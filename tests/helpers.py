"""Helpers shared by the tests: a served app in a subprocess, opening a page in Chromium.

Import them as ``from helpers import Server, open_page`` (or from ``conftest``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def shipped_sources() -> list[tuple[Path, str]]:
    """Every Python file the project ships (``crm_workspace/``, ``plugins/``), with its text, in path order."""
    paths = sorted([*(ROOT / "crm_workspace").rglob("*.py"), *(ROOT / "plugins").rglob("*.py")])
    return [(path, path.read_text(encoding="utf-8")) for path in paths]


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A server in a subprocess on a free loopback port: ``crm serve`` unless ``command`` says otherwise.

    ``command(port)`` returns another argv (``panel serve ...``); ``ready_path`` is
    the path that must answer 200 before the server counts as up.
    """

    def __init__(
        self,
        db: Path,
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
        *,
        command: Callable[[int], list[str]] | None = None,
        ready_path: str = "",
    ):
        self.db = db
        self.port = free_port()
        self.url = f"http://localhost:{self.port}/"
        self.log = db.with_suffix(".serve.log")
        full_env = {**os.environ, "CRM_USER": "ana", "CRM_DB": str(db), **(env or {})}
        argv = command(self.port) if command else [CRM, "--db", str(db), "serve", "--port", str(self.port), *args]
        self.process = subprocess.Popen(
            argv, stdout=self.log.open("w"), stderr=subprocess.STDOUT, env=full_env, cwd=db.parent
        )
        try:
            self.get(ready_path)
        except BaseException:
            self.stop()
            raise

    def get(self, path: str = "", timeout: float = 180) -> int:
        """The HTTP status of ``path``, waiting (bounded) for the server to answer at all."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()}")
            try:
                with urllib.request.urlopen(self.url + path, timeout=30) as response:
                    return response.status
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"no answer from {self.url + path} in {timeout} s: {self.log.read_text()}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def open_page(page, server: Server, name: str = "home") -> None:
    """Open a page of the served app and wait for its ready mark: every test starts from a settled page.

    The mark comes once the browser has reported the page drawn (Panel's ``onload``, a
    moment after it shows, longer on a loaded machine). An upload made before that report
    once lost its reply (a CI failure of tests/browser/test_excel.py; the app now answers
    it, crm_workspace/web/session.py ``connected_on_first_input``), and the sections built
    after the page is shown start then.
    """
    page.goto(f"{server.url}?page={name}")
    page.get_by_role("button", name="Home").wait_for()
    page.wait_for_selector("body[data-ready]", state="attached", timeout=60_000)


def install_plugin(site: Path, module: str, source: str, entry_points: dict[str, str]) -> Path:
    """A plugin installed as pip would (``module``.py and a dist-info naming ``entry_points``) in ``site``.

    ``entry_points`` maps each plugin name to its target (``"nps_plugin"``, ``"probe:ok"``);
    put ``site`` on PYTHONPATH (or sys.path) and importlib.metadata finds it.
    """
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    dist = site / f"{module}-0.1.dist-info"
    dist.mkdir(exist_ok=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module.replace('_', '-')}\nVersion: 0.1\n")
    lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
    (dist / "entry_points.txt").write_text(f"[crm_workspace]\n{lines}")
    return site
