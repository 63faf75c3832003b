"""Retake the README's screenshots: ``python docs/screenshots/take.py [--out DIR] [--keep-db]``.

Builds the demo workspace in a temporary directory, serves it with ``crm serve`` as ``ana``,
opens each page in headless Chromium (Playwright, ``/usr/bin/chromium``) at 1400x900, waits
for the page's ready mark (``<body data-ready>``, set by ``ReadyMark`` in
``crm_workspace/web/app.py``) and saves an optimised PNG per page (pngquant or optipng when
installed, else Pillow's 256-colour quantisation).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
TIMEOUT = 120_000
DESKTOP = {"width": 1400, "height": 900}
PHONE = {"width": 390, "height": 844}


def first_id(db: Path, sql: str) -> int:
    import sqlite3

    with sqlite3.connect(db) as connection:
        return connection.execute(sql).fetchone()[0]


def shots(db: Path) -> list[tuple[str, str, str | None, dict]]:
    """(file name, URL query or path, tab to click, viewport) for each screenshot."""
    contact = first_id(db, "SELECT contact_id FROM deals WHERE contact_id IS NOT NULL ORDER BY amount DESC LIMIT 1")
    ticket = first_id(db, "SELECT id FROM tickets WHERE status != 'closed' ORDER BY id LIMIT 1")
    organization = first_id(db, "SELECT organization_id FROM contacts WHERE id = " + str(contact))
    return [
        ("home", "?page=home", None, DESKTOP),
        ("contacts", "?page=contacts", None, DESKTOP),
        ("contact", f"?page=contacts&id={contact}", None, DESKTOP),
        ("organization", f"?page=organizations&id={organization}", None, DESKTOP),
        ("tasks", "?page=tasks", None, DESKTOP),
        ("pipeline", "?page=pipeline", None, DESKTOP),
        ("relationships", "?page=relationships", None, DESKTOP),
        ("lifecycle", "?page=lifecycle", None, DESKTOP),
        ("marketing-campaigns", "?page=marketing", "Campaigns", DESKTOP),
        ("marketing-analytics", "?page=marketing", "Analytics", DESKTOP),
        ("sequences", "?page=sequences", None, DESKTOP),
        ("lead-scores", "?page=scoring", None, DESKTOP),
        ("service", "?page=service", None, DESKTOP),
        ("ticket", f"?page=service&id={ticket}", None, DESKTOP),
        ("knowledge", "?page=knowledge", None, DESKTOP),
        ("kb-public", "kb", None, DESKTOP),
        ("satisfaction", "?page=surveys", None, DESKTOP),
        ("automation", "?page=automation", None, DESKTOP),
        ("calendar", "?page=calendar", None, DESKTOP),
        ("mail-log", "?page=maillog", None, DESKTOP),
        ("phone-home", "?page=home", None, PHONE),
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def crm(db: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "crm_workspace", "--db", str(db), *args]


def wait_up(url: str, process: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("crm serve exited")
        try:
            with urllib.request.urlopen(url, timeout=30):
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit("crm serve did not answer")


def optimise(path: Path) -> None:
    if shutil.which("pngquant"):
        subprocess.run(["pngquant", "--force", "--skip-if-larger", "--ext", ".png", "256", str(path)], check=False)
    elif shutil.which("optipng"):
        subprocess.run(["optipng", "-quiet", "-o2", str(path)], check=False)
    else:
        from PIL import Image

        with Image.open(path) as image:
            small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        small.save(path, optimize=True)


def take(out: Path, work: Path, only: set[str]) -> None:
    db = work / "crm.db"
    env = {**os.environ, "CRM_USER": "ana", "CRM_DB": str(db)}
    subprocess.run(crm(db, "init", "--demo"), check=True, env=env, cwd=work, stdout=subprocess.DEVNULL)
    port = free_port()
    url = f"http://localhost:{port}/"
    log = (work / "serve.log").open("w")
    server = subprocess.Popen(
        crm(db, "serve", "--port", str(port), "--no-tick"), stdout=log, stderr=subprocess.STDOUT, env=env, cwd=work
    )
    try:
        wait_up(url, server)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            for name, target, tab, viewport in shots(db):
                if only and name not in only:
                    continue
                page = browser.new_page(viewport=viewport)
                try:
                    page.goto(url + target, timeout=TIMEOUT)
                    if target.startswith("?"):
                        page.wait_for_function("document.body.dataset.ready", timeout=TIMEOUT)
                        if tab:
                            page.locator(".bk-tab", has_text=tab).first.click(timeout=TIMEOUT)
                        page.wait_for_timeout(2000)  # charts and tables finish drawing after the mark
                    path = out / f"{name}.png"
                    page.screenshot(path=str(path))
                    optimise(path)
                    print(f"{name}.png: {path.stat().st_size // 1024} KiB", flush=True)
                except Exception as error:  # one broken page must not stop the others
                    print(f"{name}: FAILED {type(error).__name__}: {str(error).splitlines()[0]}", flush=True)
                finally:
                    page.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    parser.add_argument("--keep-db", action="store_true", help="keep the temporary workspace (prints its path)")
    parser.add_argument("only", nargs="*", help="take only these (home, contacts, ...; default: all)")
    options = parser.parse_args()
    options.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="crm-shots-"))
    try:
        take(options.out, work, set(options.only))
    finally:
        if options.keep_db:
            print(f"workspace kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
