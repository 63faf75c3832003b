"""Served app under load: 20 concurrent sessions open the pipeline board, then cards move; 1 vs 2 processes.

Session open is what a browser does, without the browser: GET the page (the
server builds the session's document), open the Bokeh websocket with the
session token, ask for the document (PULL-DOC-REQ) and wait for it. Then 18
such sessions stay connected (they say `document_ready`, so Panel runs their
callbacks, and they count the updates they receive) while 2 Chromium pages
move 10 cards each with the keyboard. Loopback only, bounded: 20 sessions per
round, 60 s timeouts, servers stopped at the end.

Run: .venv/bin/python benchmarks/bench_load.py [--sessions 20] [--movers 2] [--moves 10]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from common import ROOT, fmt_seconds, report

CRM = str(Path(sys.executable).with_name("crm"))
TIMEOUT = 60.0


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Served:
    def __init__(self, db: Path, num_procs: int):
        self.port = _free_port()
        self.log = db.with_suffix(f".serve{num_procs}.log")
        self.process = subprocess.Popen(
            [CRM, "--db", str(db), "serve", "--port", str(self.port), "--num-procs", str(num_procs)],
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            env={**os.environ, "CRM_USER": "ana"},
            start_new_session=True,  # --num-procs forks: stop the whole group
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(self.log.read_text())
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=5):
                    return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(15)
        time.sleep(1)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # forked workers left behind


async def _read_message(ws) -> tuple[dict, list]:
    header = json.loads(await ws.read_message())
    metadata = await ws.read_message()
    content = await ws.read_message()
    for _ in range(header.get("num_buffers", 0) or 0):
        await ws.read_message()  # buffer header
        await ws.read_message()  # buffer payload
    return header, [metadata, content]


async def open_session(port: int, page: str, hold: asyncio.Event | None = None, patches: list | None = None) -> float:
    """Seconds from GET to the session's document received over the websocket.

    With ``hold``, the session stays connected until it is set, reading the
    server's updates (PATCH-DOC messages, counted into ``patches``) as a browser would.
    """
    from tornado.httpclient import AsyncHTTPClient, HTTPRequest
    from tornado.websocket import websocket_connect

    started = time.perf_counter()
    response = await AsyncHTTPClient().fetch(f"http://127.0.0.1:{port}/?page={page}", request_timeout=TIMEOUT)
    match = re.search(r'"token":\s*"([^"]+)"', response.body.decode())
    if not match:
        raise RuntimeError("no session token in the page")
    request = HTTPRequest(
        f"ws://127.0.0.1:{port}/ws", headers={"Origin": f"http://127.0.0.1:{port}"}, request_timeout=TIMEOUT
    )
    ws = await websocket_connect(request, subprotocols=["bokeh", match.group(1)], max_message_size=512 * 2**20)
    try:
        header, _ = await _read_message(ws)
        if header.get("msgtype") != "ACK":
            raise RuntimeError(f"expected ACK, got {header.get('msgtype')}")
        for frame in (json.dumps({"msgid": "1", "msgtype": "PULL-DOC-REQ"}), "{}", "{}"):
            await ws.write_message(frame)
        while True:
            header, _ = await _read_message(ws)
            if header.get("msgtype") == "PULL-DOC-REPLY":
                break
            if header.get("msgtype") == "ERROR":
                raise RuntimeError("server replied ERROR")
        opened = time.perf_counter() - started
        if hold is not None:  # what BokehJS says once the page is drawn: Panel starts the session's callbacks
            ready = {"type": "event", "name": "document_ready", "values": {"type": "map", "entries": []}}
            event = {"kind": "MessageSent", "msg_type": "bokeh_event", "msg_data": ready}
            for frame in (json.dumps({"msgid": "2", "msgtype": "PATCH-DOC"}), "{}", json.dumps({"events": [event]})):
                await ws.write_message(frame)
        while hold is not None and not hold.is_set():
            reading = asyncio.ensure_future(_read_message(ws))
            stopping = asyncio.ensure_future(hold.wait())
            done, _ = await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if reading in done:
                header, _ = reading.result()
                if header.get("msgtype") == "PATCH-DOC" and patches is not None:
                    patches.append(header.get("msgtype"))
            else:
                reading.cancel()
        return opened
    finally:
        ws.close()


async def round_of(port: int, page: str, sessions: int) -> tuple[list[float], list[str]]:
    from tornado.httpclient import AsyncHTTPClient

    AsyncHTTPClient.configure(None, max_clients=max(10, sessions))  # no client-side queue: all at once

    async def guarded() -> float | str:
        try:
            return await asyncio.wait_for(open_session(port, page), TIMEOUT)
        except Exception as error:
            return f"{type(error).__name__}: {error}"

    results = await asyncio.gather(*(guarded() for _ in range(sessions)))
    times = sorted(r for r in results if isinstance(r, float))
    errors = [r for r in results if isinstance(r, str)]
    return times, errors


def _p(times: list[float], q: float) -> float:
    if not times:
        return float("nan")
    return times[min(len(times) - 1, round(q * (len(times) - 1)))]


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
OPEN_STAGES = ("qualification", "needs_analysis", "proposal")


async def card_moves(
    port: int, sessions: int, movers: int, moves: int, db: Path | None = None
) -> tuple[list[float], list[str], int] | None:
    """``sessions`` sessions on the board: ``movers`` real browser pages move ``moves`` cards each
    (keyboard, one column right), while the others stay connected as protocol clients that
    receive every change, as open browser tabs do.

    A move is timed from the key press to the board redrawn without the card in
    its old column, i.e. after the server wrote it and sent the board back. Only the movers render in
    Chromium: twenty Chromium pages on this 2-core machine would measure Chromium,
    not the server. Returns (times, errors, updates the idle sessions received);
    None if there is no board.
    """
    from playwright.async_api import async_playwright

    url = f"http://127.0.0.1:{port}/?page=pipeline"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        hold = asyncio.Event()
        patches: list[str] = []
        idle = [
            asyncio.ensure_future(asyncio.wait_for(open_session(port, "pipeline", hold, patches), TIMEOUT * 10))
            for _ in range(sessions - movers)
        ]
        try:
            pages = []
            for _ in range(movers):
                context = await browser.new_context(viewport={"width": 1400, "height": 900})
                page = await context.new_page()
                await page.goto(url, timeout=TIMEOUT * 1000, wait_until="domcontentloaded")
                try:
                    await page.locator(".pl-card").first.wait_for(timeout=TIMEOUT * 1000)
                except Exception:
                    return None
                pages.append(page)
            cards = (
                await pages[0]
                .locator(".pl-card")
                .evaluate_all("els => els.map(e => [Number(e.dataset.id), e.dataset.stage])")
            )
            cards = [c for c in cards if c[1] in OPEN_STAGES]
            await asyncio.sleep(3)  # the idle sessions are open before the first move
            times: list[float] = []
            errors: list[str] = []

            async def mover(index: int, page) -> None:
                for card_id, stage in cards[index * moves : (index + 1) * moves]:
                    try:
                        card = page.locator(f".pl-card[data-id='{card_id}']")
                        await card.focus()
                        started = time.perf_counter()
                        await card.press("ArrowRight")
                        # redrawn from the server's answer: gone from its old column (in the new
                        # one, possibly below the cards shown when that column is long)
                        await page.locator(f".pl-card[data-id='{card_id}'][data-stage='{stage}']").wait_for(
                            state="detached", timeout=TIMEOUT * 1000
                        )
                        times.append(time.perf_counter() - started)
                    except Exception as error:
                        where = _stage_in(db, card_id) if db else "?"
                        errors.append(
                            f"{type(error).__name__} moving deal {card_id} from {stage} (the database has it in"
                            f" {where}): {str(error)[:160]}"
                        )

            await asyncio.gather(*(mover(i, page) for i, page in enumerate(pages)))
            await asyncio.sleep(2)  # the last change reaches the idle sessions (1 s poll)
            hold.set()
            for result in await asyncio.gather(*idle, return_exceptions=True):
                if isinstance(result, BaseException):
                    errors.append(f"idle session: {type(result).__name__}: {str(result)[:200]}")
            return sorted(times), errors, len(patches)
        finally:
            hold.set()
            await browser.close()


def _stage_in(db: Path, deal_id: int) -> str:
    """Where the database has a deal: tells a move the server never got from a board not redrawn."""
    import sqlite3

    with contextlib.closing(sqlite3.connect(db)) as conn:
        row = conn.execute("SELECT stage FROM deals WHERE id = ?", [deal_id]).fetchone()
    return row[0] if row else "no row"


def measure(db: Path, num_procs: int, page: str, sessions: int, movers: int = 2, moves: int = 0) -> dict:
    server = Served(db, num_procs)
    moved = None
    try:
        asyncio.run(round_of(server.port, page, 2 * num_procs))  # warm up every process
        started = time.perf_counter()
        times, errors = asyncio.run(round_of(server.port, page, sessions))
        wall = time.perf_counter() - started
        if moves:
            moved = asyncio.run(card_moves(server.port, sessions, movers, moves, db))
    finally:
        server.stop()
    result = {
        "p50": statistics.median(times) if times else float("nan"),
        "p95": _p(times, 0.95),
        "errors": errors,
        "wall": wall,
    }
    print(
        f"  {num_procs} proc: {sessions} sessions, p50 {fmt_seconds(result['p50'])}, "
        f"p95 {fmt_seconds(result['p95'])}, all done in {fmt_seconds(wall)}, errors {len(errors)}"
        + (f" ({errors[:2]})" if errors else ""),
        flush=True,
    )
    if moves and moved is None:
        print(f"  {num_procs} proc: card moves skipped (no pipeline board cards on the page)", flush=True)
    elif moves:
        move_times, move_errors, updates = moved
        result.update(move_p50=_p(move_times, 0.5), move_p95=_p(move_times, 0.95), move_errors=move_errors)
        print(
            f"  {num_procs} proc: {len(move_times)} card moves by {movers} browser pages among {sessions} open sessions"
            f" ({updates} updates pushed to the {sessions - movers} others), "
            f"p50 {fmt_seconds(result['move_p50'])}, p95 {fmt_seconds(result['move_p95'])}, errors {len(move_errors)}"
            + (f" ({move_errors[:2]})" if move_errors else ""),
            flush=True,
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--page", default="pipeline")
    parser.add_argument("--movers", type=int, default=2, help="Browser pages that move cards.")
    parser.add_argument("--moves", type=int, default=10, help="Card moves per browser page (0: none).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "crm.db"
        subprocess.run([CRM, "--db", str(db), "init", "--demo"], check=True, capture_output=True, cwd=ROOT)
        one = measure(db, 1, args.page, args.sessions, args.movers, args.moves)
        two = measure(db, 2, args.page, args.sessions, args.movers, args.moves)
    goal = "goal: p95 < 5 s, 0 errors"
    report(f"load session-open p50 ({args.sessions} concurrent, {args.page})", two["p50"], one["p50"], "1 proc")
    report(
        f"load session-open p95 ({args.sessions} concurrent, {args.page}, --num-procs 2)",
        two["p95"],
        one["p95"],
        "1 proc",
        goal=f"{goal}; errors 2 procs {len(two['errors'])}, 1 proc {len(one['errors'])}",
    )
    if "move_p95" in one and "move_p95" in two:
        report(
            f"load card-move p95 ({args.sessions} open sessions, --num-procs 2)",
            two["move_p95"],
            one["move_p95"],
            "1 proc",
            goal=f"goal: p95 < 500 ms, 0 errors; errors 2 procs {len(two['move_errors'])}, "
            f"1 proc {len(one['move_errors'])}",
        )


if __name__ == "__main__":
    main()
