"""Served app under load: 20 concurrent sessions open the pipeline page, 1 vs 2 server processes.

Each session is what a browser does, without the browser: GET the page (the
server builds the session's document), open the Bokeh websocket with the
session token, ask for the document (PULL-DOC-REQ) and wait for it. Session
open = GET + document received. Loopback only, bounded: 20 sessions per round,
60 s timeout each, servers stopped at the end.

Run: .venv/bin/python benchmarks/bench_load.py [--sessions 20] [--page pipeline]
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


async def open_session(port: int, page: str) -> float:
    """Seconds from GET to the session's document received over the websocket."""
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
        return time.perf_counter() - started
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


async def card_moves(port: int, sessions: int, moves: int) -> tuple[list[float], list[str]] | None:
    """``sessions`` browser pages open the board; each moves ``moves`` cards one column right (keyboard).

    A move is timed from the key press to the card drawn in its new column, i.e.
    after the server wrote it and sent the board back. None if there is no board.
    """
    from playwright.async_api import async_playwright

    url = f"http://127.0.0.1:{port}/?page=pipeline"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            first = await browser.new_page()
            await first.goto(url, timeout=TIMEOUT * 1000, wait_until="domcontentloaded")
            try:
                await first.locator(".pl-card").first.wait_for(timeout=30_000)
            except Exception:
                return None
            cards = await first.locator(".pl-card").evaluate_all(
                "els => els.map(e => [Number(e.dataset.id), e.dataset.stage])"
            )
            await first.close()
            cards = [c for c in cards if c[1] in OPEN_STAGES]
            nxt = {
                stage: OPEN_STAGES[i + 1] if i + 1 < len(OPEN_STAGES) else "negotiation"
                for i, stage in enumerate(OPEN_STAGES)
            }
            times: list[float] = []
            errors: list[str] = []

            opening = asyncio.Semaphore(3)  # open the pages a few at a time (2 cores), then all move at once
            ready = 0
            all_open = asyncio.Event()

            async def session(index: int) -> None:
                nonlocal ready
                counted = False
                context = await browser.new_context(viewport={"width": 1400, "height": 900})
                try:
                    async with opening:
                        page = await context.new_page()
                        await page.goto(url, timeout=TIMEOUT * 1000, wait_until="domcontentloaded")
                        await page.locator(".pl-card").first.wait_for(timeout=TIMEOUT * 1000)
                    ready, counted = ready + 1, True
                    if ready >= sessions:
                        all_open.set()
                    await asyncio.wait_for(all_open.wait(), TIMEOUT * 3)
                    for card_id, stage in cards[index * moves : (index + 1) * moves]:
                        card = page.locator(f".pl-card[data-id='{card_id}']")
                        await card.focus()
                        started = time.perf_counter()
                        await card.press("ArrowRight")
                        await page.locator(f".pl-card[data-id='{card_id}'][data-stage='{nxt[stage]}']").wait_for(
                            timeout=TIMEOUT * 1000
                        )
                        times.append(time.perf_counter() - started)
                except Exception as error:
                    errors.append(f"{type(error).__name__}: {str(error)[:200]}")
                    if not counted:  # a session that failed to open must not hold the others back
                        ready += 1
                        if ready >= sessions:
                            all_open.set()
                finally:
                    await context.close()

            await asyncio.gather(*(session(i) for i in range(sessions)))
            return sorted(times), errors
        finally:
            await browser.close()


def measure(db: Path, num_procs: int, page: str, sessions: int, moves: int = 0) -> dict:
    server = Served(db, num_procs)
    moved = None
    try:
        asyncio.run(round_of(server.port, page, 2 * num_procs))  # warm up every process
        started = time.perf_counter()
        times, errors = asyncio.run(round_of(server.port, page, sessions))
        wall = time.perf_counter() - started
        if moves:
            moved = asyncio.run(card_moves(server.port, sessions, moves))
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
        move_times, move_errors = moved
        result.update(move_p50=_p(move_times, 0.5), move_p95=_p(move_times, 0.95), move_errors=move_errors)
        print(
            f"  {num_procs} proc: {len(move_times)} card moves from {sessions} browser sessions, "
            f"p50 {fmt_seconds(result['move_p50'])}, p95 {fmt_seconds(result['move_p95'])}, errors {len(move_errors)}"
            + (f" ({move_errors[:2]})" if move_errors else ""),
            flush=True,
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--page", default="pipeline")
    parser.add_argument("--moves", type=int, default=2, help="Card moves per browser session (0: none).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "crm.db"
        subprocess.run([CRM, "--db", str(db), "init", "--demo"], check=True, capture_output=True, cwd=ROOT)
        one = measure(db, 1, args.page, args.sessions, args.moves)
        two = measure(db, 2, args.page, args.sessions, args.moves)
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
            f"load card-move p95 ({args.sessions} browser sessions, --num-procs 2)",
            two["move_p95"],
            one["move_p95"],
            "1 proc",
            goal=f"goal: p95 < 500 ms, 0 errors; errors 2 procs {len(two['move_errors'])}, "
            f"1 proc {len(one['move_errors'])}",
        )


if __name__ == "__main__":
    main()
