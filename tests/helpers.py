"""Helpers shared by the tests: a served app in a subprocess, opening a page in Chromium.

Import them as ``from helpers import Server, open_page`` (or from ``conftest``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

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

    def _wait(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"crm serve exited: {self.log.read_text()}")
            try:
                with urllib.request.urlopen(self.url, timeout=30) as response:
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


def open_page(page, server: Server, name: str = "home") -> None:
    """Open a page of the served app and wait for Panel to render it."""
    page.goto(f"{server.url}?page={name}")
    page.get_by_role("button", name="Home").wait_for()
