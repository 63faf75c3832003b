"""A write with 20 webhook subscriptions vs the same write with none.

Each side updates contacts one at a time through the Store (a transaction each: validation,
audit, events), in two identical workspaces; one has 20 enabled subscriptions all wanting
``contacts.updated``, so every write also queues 20 deliveries (one outbox row naming the 20
subscriptions; the worker makes the per-subscription rows later, outside the write). Rounds alternate between the two files so the machine's noise falls on both; the
figure is the median write. Goal: no slower than 1.2x.

A third line runs the 20-subscription writes while the delivery thread works against a
receiver that hangs (never answers within the timeout): writes must not notice.
"""

from __future__ import annotations

import http.server
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

from common import report

from crm_workspace.testing import make_workspace

WRITES = int(os.environ.get("BENCH_WEBHOOK_WRITES", 2000))
BATCH = 1  # writes per turn: one each, so the machine's drift falls on both sides alike
SUBSCRIPTIONS = 20


def workspace(path: Path, subscriptions: int, url: str):
    from crm_workspace_automation import webhooks

    ws = make_workspace(path, user="bench")
    ws.set_setting("webhooks_allow_private", True)
    ws.store.insert_many(
        "contacts", [{"first_name": f"F{i}", "last_name": "L", "email": f"p{i}@example.com"} for i in range(500)]
    )
    for _ in range(subscriptions):
        webhooks.subscribe(ws, url, "contacts.updated")
    return ws


def writes(ws, start: int, count: int) -> list[float]:
    times = []
    for i in range(start, start + count):
        contact = 1 + i % 500
        t = time.perf_counter()
        ws.store.update("contacts", contact, {"title": f"T{i}"})
        times.append(time.perf_counter() - t)
    return times


def hanging_receiver() -> tuple[http.server.HTTPServer, str]:
    class Hang(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            time.sleep(30)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hang)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}/hook"


def main() -> None:
    from crm_workspace_automation import delivery

    server, url = hanging_receiver()
    with tempfile.TemporaryDirectory() as tmp:
        none = workspace(Path(tmp) / "none.db", 0, url)
        twenty = workspace(Path(tmp) / "twenty.db", SUBSCRIPTIONS, url)
        base, ours = [], []
        writes(none, 0, 50), writes(twenty, 0, 50)  # warm-up
        for start in range(0, WRITES, BATCH):
            base += writes(none, start, BATCH)
            ours += writes(twenty, start, BATCH)
        queued = twenty.store.scalar("SELECT sum(json_array_length(targets)) FROM webhook_events")
        assert queued >= SUBSCRIPTIONS * WRITES, queued  # every write queued 20 deliveries
        report(
            f"webhooks write with {SUBSCRIPTIONS} subscriptions (median of {WRITES})",
            statistics.median(ours),
            statistics.median(base),
            "no subscriptions",
            goal="no slower than 1.2x",
        )
        twenty.set_setting("webhooks_timeout", 1)
        thread = delivery.start_thread(twenty, interval=0.1)
        time.sleep(0.5)
        base_busy, busy = [], []
        for start in range(WRITES, WRITES + WRITES // 2, BATCH):  # alternating again, worker busy meanwhile
            base_busy += writes(none, start, BATCH)
            busy += writes(twenty, start, BATCH)
        thread.stop()
        thread.join(10)  # let a round in flight finish before the files go
        tried = twenty.store.scalar("SELECT count(*) FROM webhook_deliveries WHERE attempts > 0 OR status = 'sending'")
        report(
            f"webhooks write while delivering to a hanging receiver ({tried} attempts timed out)",
            statistics.median(busy),
            statistics.median(base_busy),
            "no subscriptions",
            goal="no slower than 1.2x",
        )
        none.close()
        twenty.close()
    server.shutdown()


if __name__ == "__main__":
    main()
