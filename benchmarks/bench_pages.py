"""Every page of the served app in Chromium: navigation start to the page's own "ready" mark.

The standard demo workspace (``crm init --demo``) is served with ``crm serve``; beside
it, in the same run, Panel's own empty page (``pn.panel("ready")``) is served the same
way (``pn.serve``, one process) with the same ready mark. For each page Chromium
navigates 3 times (one warm-up first, so both sides load Panel's scripts from the
browser cache) and the median of ``performance.mark("crm-ready")`` (set by
crm_workspace/web/app.py's ReadyMark once the page has rendered) is reported against
the empty page's. Goal (issue 18): every page within 1.5 s on a quiet machine.

Each navigation happens in one open tab, from a blank page: what a person does who types
an address, opens a shared link or reloads. ``--new-tab`` opens a new tab for each one
instead, which on this 2-core VM adds Chromium's start of a renderer process (0.5-0.9 s
before the page's first script is even asked for, the same for the app and the empty
page); the run's second line says how much, measured on the empty page.

Then, as a person moves around the app: in an open app, each page's menu entry is clicked
in turn (its first visit in the session), from the click to the page's ready mark,
against the page's own load by address above.

Every page the app registers (``crm_dashboards``, plus home and the audit trail) is
measured, then each module's record page where it has one (a contact, an organization,
a deal, a ticket, an article: the first of its table). ``--pages`` picks some by label.

On a large workspace (issue 18: every page within 2.5 s at 100k contacts): ``--contacts N``
serves a copy of the cached demo workspace of that size (benchmarks/.data, built once by
common.large_workspace_path: N contacts, N/10 activities, N/100 deals and relationships,
the core modules' data only), ``--db PATH`` a copy of any workspace file. The copy is
migrated and served; the source file is never written.

Run: .venv/bin/python benchmarks/bench_pages.py [--runs 3] [--pages "contacts,deal record"]
     [--contacts 100000 | --db PATH] [--new-tab]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from common import ROOT, large_workspace_path, report

CRM = str(Path(sys.executable).with_name("crm"))
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
GOAL = "goal: ready within 1.5 s"
GOAL_LARGE = "goal: ready within 2.5 s at 100k contacts"
TIMEOUT_MS = 60_000
#: Seconds from navigation start until no deferred section is still loading, per navigation.
SETTLED: list[float] = []
#: Median seconds to ready of each page loaded by address, this run.
LOADS: dict[str, float] = {}


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Served:
    """A server in a subprocess on a free loopback port, answering before we go on."""

    def __init__(self, argv: list[str], log: Path, env: dict[str, str] | None = None):
        self.url = ""
        self.port = _free_port()
        argv = [arg.replace("{port}", str(self.port)) for arg in argv]
        self.process = subprocess.Popen(
            argv, stdout=log.open("w"), stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
        self.url = f"http://localhost:{self.port}/"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(log.read_text())
            try:
                with urllib.request.urlopen(self.url, timeout=30):
                    return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"server did not start: {log.read_text()}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def serve_baseline(port: int) -> None:
    """Panel's own empty page, served like ``crm serve`` serves the app (target of --serve-baseline)."""
    import panel as pn

    from crm_workspace.web.app import ReadyMark

    def empty_page() -> pn.viewable.Viewable:
        mark = ReadyMark(width=0, height=0, margin=0)
        pn.state.onload(lambda: setattr(mark, "page", "baseline"))
        return pn.Column(pn.panel("ready"), mark)

    pn.serve({"/": empty_page}, port=port, address="127.0.0.1", show=False, threaded=False,
             websocket_origin=[f"localhost:{port}", f"127.0.0.1:{port}"])  # fmt: skip


#: Record pages: label -> (page, address argument, SQL giving the record's id and the text its page shows).
RECORDS = {
    "contacts": ("contact record", "id", "SELECT id, first_name || ' ' || last_name FROM contacts ORDER BY id"),
    "organizations": ("organization record", "id", "SELECT id, name FROM organizations ORDER BY id"),
    "pipeline": ("deal record", "deal", "SELECT id, title FROM deals ORDER BY id"),
    "service": ("ticket record", "id", "SELECT id, subject FROM tickets ORDER BY id"),
    "knowledge": ("article record", "id", "SELECT id, title FROM kb_articles ORDER BY id"),
}
#: Text a page must show once ready (checked, so a page that "readies" empty is caught).
EXPECT = {"home": "Welcome", "audit": "Audit trail"}


def registered_pages(db: Path) -> dict[str, str]:
    """Name -> menu label of every page the served app lists to the bench's user, in menu order
    (``crm_dashboards``)."""
    sys.path.insert(0, str(ROOT / "plugins"))  # this checkout's plugins, as the served app gets them
    from crm_workspace import Workspace
    from crm_workspace.web.app import HOME, app_pages, nav_label

    ws = Workspace.open(db, user="ana")
    try:
        return {page.name: nav_label(page) for page in [HOME, *app_pages(ws)]}
    finally:
        ws.close()


def page_urls(db: Path) -> dict[str, tuple[str, str]]:
    """Page label -> (query string, text the page must show): every registered page, then its record page.

    Records are the first of their table in the demo data; a module without records in
    the demo (or disabled) has no record page here.
    """
    conn = sqlite3.connect(db)
    urls: dict[str, tuple[str, str]] = {}
    try:
        for name in registered_pages(db):
            urls[name] = (f"?page={name}", EXPECT.get(name, ""))
            if name in RECORDS:
                label, arg, sql = RECORDS[name]
                try:
                    row = conn.execute(sql + " LIMIT 1").fetchone()
                except sqlite3.Error:  # the module's tables are missing: no record page
                    row = None
                if row:
                    urls[label] = (f"?page={name}&{arg}={row[0]}", str(row[1]))
    finally:
        conn.close()
    return urls


class Tab:
    """Where the bench navigates: one open tab (from a blank page each time), or a new tab per navigation."""

    def __init__(self, context, *, new_tab: bool = False):
        self.context = context
        self.new_tab = new_tab
        self.page = None if new_tab else context.new_page()

    def open(self, url: str):
        """A page navigated to ``url`` (committed), the clock starting at this navigation."""
        page = self.context.new_page() if self.new_tab else self.page
        if not self.new_tab:
            page.goto("about:blank")  # the last page's scripts and connection go before the clock starts
        page.goto(url, wait_until="commit", timeout=TIMEOUT_MS)
        return page

    def done(self, page) -> None:
        if self.new_tab:
            page.close()

    def close(self) -> None:
        if self.page is not None:
            self.page.close()


def time_to_ready(tab: Tab, url: str, expect: str = "") -> tuple[float, bool]:
    """Seconds from navigation start to the crm-ready mark, and whether ``expect`` was shown."""
    page = tab.open(url)
    try:
        page.wait_for_function("document.body && document.body.dataset.ready", timeout=TIMEOUT_MS)
        start = page.evaluate("performance.getEntriesByName('crm-ready').at(-1).startTime")
        shown = not expect or any(match.is_visible() for match in page.get_by_text(expect).all())
        # sections built after the ready mark (crm_workspace/web/deferred.py): let them arrive, so the
        # next navigation starts on a quiet server and the time to the whole page is on record too
        if page.locator(".crm-deferred").count():
            wait_settled(page)
            SETTLED.append(page.evaluate("performance.now()") / 1000)
        return start / 1000, shown
    finally:
        tab.done(page)


def wait_settled(page) -> None:
    """Until no section built after the ready mark is still loading (crm_workspace/web/deferred.py)."""
    deferred = page.locator(".crm-deferred")
    if deferred.count():
        deferred.first.wait_for(state="detached", timeout=TIMEOUT_MS)


#: Resolves with the time at which every view of the page has finished drawing (Bokeh's own verdict):
#: a page's ready mark follows a menu click at once, while views of new components may still be building.
DRAWN = """() => new Promise(resolve => {
  const check = () => Object.values(Bokeh.index).every(view => view.has_finished())
    ? resolve(performance.now()) : requestAnimationFrame(check)
  check()
})"""


def menu_ready(context, url: str, labels: dict[str, str]) -> dict[str, float]:
    """Seconds from a click on each page's menu entry to that page drawn, in one open app.

    What a person moving around the app waits for: no page load, the new page built by the
    server (its first visit in the session) and drawn in the page already open. Drawn is
    the later of the page's ready mark and every view finished (a load's mark comes after
    both); a component drawn by its own script may still be compiling then (the pipeline
    board's cards came a frame later in one click of four). A page that never gets there
    is left out, said on the way.
    """
    from playwright.sync_api import Error as PlaywrightError

    page = context.new_page()
    try:
        page.goto(url, wait_until="commit", timeout=TIMEOUT_MS)
        page.wait_for_function("document.body && document.body.dataset.ready", timeout=TIMEOUT_MS)
        wait_settled(page)
        seconds = {}
        for name, label in labels.items():
            if name == "home":
                continue
            entry = page.get_by_role("button", name=label, exact=True).first
            entry.evaluate("button => { window.crmClicked = performance.now(); button.click() }")
            try:
                page.wait_for_function(f"document.body.dataset.ready === {name!r}", timeout=TIMEOUT_MS)
            except PlaywrightError as error:
                print(f"    ({name} from the menu: not ready: {str(error).splitlines()[0]})", flush=True)
                continue
            mark = page.evaluate("performance.getEntriesByName('crm-ready').at(-1).startTime")
            drawn = page.evaluate(DRAWN)
            seconds[name] = (max(mark, drawn) - page.evaluate("window.crmClicked")) / 1000
            wait_settled(page)
        return seconds
    finally:
        page.close()


def median_ready(tab: Tab, url: str, runs: int, expect: str = "") -> tuple[float, bool]:
    results = [time_to_ready(tab, url, expect) for _ in range(runs)]
    return statistics.median(t for t, _ in results), all(shown for _, shown in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="navigations per page (median)")
    parser.add_argument("--pages", default="", help="comma-separated page labels (default: all)")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--contacts", type=int, metavar="N", help="a copy of the cached demo workspace of N contacts")
    size.add_argument("--db", type=Path, metavar="PATH", help="a copy of this workspace file (never written)")
    parser.add_argument("--new-tab", action="store_true", help="a new tab for each navigation")
    parser.add_argument("--serve-baseline", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_baseline:
        serve_baseline(args.serve_baseline)
        return

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="bench-pages-") as tmp:
        db = Path(tmp) / "crm.db"
        source = args.db
        if args.contacts:
            n = args.contacts
            source = large_workspace_path(n, activities=n // 10, deals=n // 100, relationships=n // 100)
        if source is not None:
            if not Path(source).is_file():
                parser.error(f"no workspace file at {source}")
            shutil.copyfile(source, db)  # the copy is migrated and served: the source stays as it is
            # the enabled plugins' tables and migrations, before the app opens it
            subprocess.run([CRM, "--db", str(db), "init"], check=True, capture_output=True)
            # the catch-up tick a server runs once after it starts (surveys, SLAs, scores over every row: 2 min
            # at 100k contacts, holding the server's interpreter): done before the clock starts, as on a server
            # that has been up a while; a failing plugin (no SMTP server here) is no reason to stop
            subprocess.run([CRM, "--db", str(db), "tick"], check=False, capture_output=True)
        else:
            subprocess.run([CRM, "--db", str(db), "init", "--demo"], check=True, capture_output=True)
        goal = GOAL if source is None else GOAL_LARGE
        contacts = sqlite3.connect(db).execute("SELECT count(*) FROM contacts").fetchone()[0]
        print(f"workspace: {contacts:,} contacts ({source or 'crm init --demo'})", flush=True)
        env = {"CRM_USER": "ana", "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "plugins")])}
        app = Served([CRM, "--db", str(db), "serve", "--port", "{port}"], Path(tmp) / "app.log", env)
        baseline = Served([sys.executable, __file__, "--serve-baseline", "{port}"], Path(tmp) / "base.log", env)
        urls = page_urls(db)
        labels = registered_pages(db)
        wanted = [p.strip() for p in args.pages.split(",") if p.strip()] or list(urls)
        unknown = [label for label in wanted if label not in urls]
        if unknown:
            parser.error(f"unknown page(s) {', '.join(unknown)}; pages: {', '.join(urls)}")
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
                context = browser.new_context(viewport={"width": 1400, "height": 900})
                tab = Tab(context, new_tab=args.new_tab)
                time_to_ready(tab, baseline.url)  # warm-up: scripts into the browser cache
                time_to_ready(tab, app.url)
                # what a new tab costs on this machine, on the empty page (the module's docstring)
                open_tab = Tab(context) if args.new_tab else tab
                in_tab, _ = median_ready(open_tab, baseline.url, args.runs)
                opened, _ = median_ready(Tab(context, new_tab=True), baseline.url, args.runs)
                if open_tab is not tab:
                    open_tab.close()
                where = "a new tab each time" if args.new_tab else "one open tab"
                print(f"navigating in {where}; Panel's empty page: {in_tab:.2f} s in an open tab,"
                      f" {opened:.2f} s in a new tab", flush=True)  # fmt: skip
                for label in wanted:
                    query, expect = urls[label]
                    empty, _ = median_ready(tab, baseline.url, args.runs)
                    SETTLED.clear()
                    ours, shown = median_ready(tab, app.url + query, args.runs, expect)
                    name = f"page {label}" + ("" if shown else f" (did not show {expect!r})")
                    report(name, ours, empty, "Panel's empty page", goal=goal)
                    if SETTLED:
                        settled = statistics.median(SETTLED)
                        print(f"    (whole page, with the sections loaded after ready: {settled:.2f} s)", flush=True)
                    LOADS[label] = ours
                tab.close()  # its last page's session would share the server with the clicks below
                # moving around the open app: each menu entry clicked in turn, a new session per run
                shown = {name: label for name, label in labels.items() if name in wanted}
                clicks = [menu_ready(context, app.url, shown) for _ in range(args.runs)] if shown else []
                for name in [name for name in shown if name != "home"]:
                    if times := [run[name] for run in clicks if name in run]:
                        report(f"page {name} from the menu", statistics.median(times), LOADS[name], "its own page load")
                browser.close()
        finally:
            app.stop()
            baseline.stop()


if __name__ == "__main__":
    main()
