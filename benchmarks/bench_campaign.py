"""bench campaign_send_10k: a campaign to 10,000 people end to end vs a bare smtplib loop.

Ours: ``crm_workspace_marketing.sending.send``: the audience from the segment (consent,
suppressions, each address once), each message rendered from the templates (merge fields,
signed click/open/unsubscribe links, List-Unsubscribe), queued in the core outbox in one
transaction, then delivered over one SMTP connection with a commit before and after each
message. Baseline, in the same run: ``smtp.sendmail`` of the very same prepared messages
(read back from the outbox) in a loop over one connection. Both to the same aiosmtpd
server in a child process. Goal (issue 19): within 2x (ratio >= 0.5).
Run alone: ``.venv/bin/python benchmarks/bench_campaign.py [N]``.
"""

from __future__ import annotations

import shutil
import smtplib
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from benchmarks.bench_segments import workspace_path
from benchmarks.common import DATA, fmt_seconds, report

SERVER = """
import asyncio, sys
from aiosmtpd.controller import Controller

class Count:
    n = 0
    async def handle_DATA(self, server, session, envelope):
        Count.n += 1
        return "250 OK"

controller = Controller(Count(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
print("ready", flush=True)
sys.stdin.read()
"""


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def timed_stages(sending) -> dict[str, float]:
    """Wrap the queue's stages to time them: rendering (build_message less make), building, enqueueing."""
    from crm_workspace.services.compose import MessageTemplate

    spent = {"build_message": 0.0, "make": 0.0, "enqueue_many": 0.0}

    def timed(owner, name):
        original = getattr(owner, name)

        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - start

        setattr(owner, name, wrapper)

    timed(sending, "build_message")
    timed(sending, "enqueue_many")
    timed(MessageTemplate, "make")
    return spent


def main(size: int = 10_000) -> None:
    from crm_workspace_marketing import campaigns, segments, sending

    from crm_workspace import Workspace

    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    server.stdout.readline()
    scratch = DATA / "campaign-bench.db"
    shutil.copy(workspace_path(100_000), scratch)
    ws = Workspace.open(scratch, user="bench")
    try:
        for key, value in (("smtp_host", "127.0.0.1"), ("smtp_port", port), ("smtp_security", "none")):
            ws.set_setting(key, value)
        people = [
            r["id"]
            for r in ws.query(
                "SELECT id FROM contacts WHERE marketing_consent = 1 AND email LIKE '%_@_%' LIMIT ?", [size]
            )
        ]
        segments.save_segment(ws, "Bench audience", kind="static")
        segments.add_members(ws, "Bench audience", people)
        campaigns.save_campaign(
            ws,
            {
                "name": "Bench",
                "subject": "News for {{ first_name | default('you') }} at {{ organization | default('your team') }}",
                "html": '<html><body><p>Hello {{ first_name | default("there") }},</p><p>Three things for '
                '{{ organization | default("you") }}:</p><ul><li><a href="https://example.com/a">A</a></li>'
                '<li><a href="https://example.com/b">B</a></li><li><a href="https://example.com/c">C</a></li></ul>'
                "</body></html>",
                "segment_id": "Bench audience",
            },
        )
        stages = timed_stages(sending)
        started = time.perf_counter()
        queued = sending.queue(ws, "Bench")
        queue_time = time.perf_counter() - started
        result = sending.send(ws, "Bench")
        ours = time.perf_counter() - started
        assert queued == size and result["sent"] == size, (queued, result)
        prepared = [
            (r["sender"], r["recipient"], r["message"])
            for r in ws.query(
                "SELECT sender, recipient, message FROM mail_outbox WHERE ref_id = ? ORDER BY id",
                [str(campaigns.get_campaign(ws, "Bench")["id"])],
            )
        ]
        started = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for sender, recipient, text in prepared:
                smtp.sendmail(sender, [recipient], text)
        baseline = time.perf_counter() - started
    finally:
        ws.close()
        server.stdin.close()
        server.wait(10)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{scratch}{suffix}").unlink(missing_ok=True)
    render = stages["build_message"] - stages["make"]
    print(
        f"  render + queue {fmt_seconds(queue_time)} (render {fmt_seconds(render)}, build {fmt_seconds(stages['make'])},"
        f" enqueue {fmt_seconds(stages['enqueue_many'])}, rest {fmt_seconds(queue_time - render - stages['make'] - stages['enqueue_many'])}),"
        f" deliver {fmt_seconds(ours - queue_time)}"
    )
    report(f"campaign_send_{size // 1000}k", ours, baseline, "bare smtplib loop", goal=">= 0.5 (within 2x)")
    report(
        f"campaign_deliver_{size // 1000}k", ours - queue_time, baseline, "bare smtplib loop", goal="the delivery alone"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
