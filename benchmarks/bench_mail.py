"""Outbox delivery: N personalised messages through ``outbox.deliver`` vs a bare smtplib loop.

Both send the same prepared messages (rendered from templates with
``services.templates`` and built with ``make_message``) over one SMTP connection
to the same aiosmtpd server, which runs in a child process so sender and
server do not share one interpreter. Ours does everything a campaign's send
does: for each message a commit marking it ``sending`` before SMTP and the
``sent`` mark right after, from rows queued in ``mail_outbox``. The baseline
is ``smtp.send_message(msg)`` in a loop. Goal (issue 19): within 2x
(ratio >= 0.5). A second line compares with ``smtp.sendmail`` of bytes formatted
beforehand (the work the outbox did when queueing): only the ledger's commits
differ there. Default 1,000 messages; ``--size 10000`` for the real figure.
"""

from __future__ import annotations

import argparse
import smtplib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, fmt_seconds, report

from crm_workspace import Workspace
from crm_workspace.services import outbox, templates
from crm_workspace.services.mailer import as_text, make_message

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
controller.stop()
print(Count.n, flush=True)
"""
SUBJECT = "{{ first_name | default('Hello') }}, our November news"
TEXT = (
    "Hi {{ first_name | default('there') }},\n\n{% for n in range(12) %}Line {{ n }} of the newsletter.\n{% endfor %}"
)
HTML = "<p>Hi <b>{{ first_name | default('there') }}</b></p>{% for n in range(12) %}<p>Line {{ n }}</p>{% endfor %}"


def prepared(size: int) -> list:
    messages = []
    for i in range(size):
        context = {"first_name": f"Ana{i}" if i % 10 else None}
        messages.append(
            make_message(
                to=f"person{i}@example.com",
                subject=templates.render(SUBJECT, context, html=False),
                text=templates.render(TEXT, context, html=False),
                html=templates.render(HTML, context, html=True),
                sender="ACME <news@acme.example>",
                headers={"List-Unsubscribe": f"<https://acme.example/u/{i}>"},
            )
        )
    return messages


def bare(port: int, messages: list) -> float:
    start = time.perf_counter()
    smtp = smtplib.SMTP("127.0.0.1", port)
    for message in messages:
        smtp.send_message(message)
    smtp.quit()
    return time.perf_counter() - start


def bare_flat(port: int, flat: list) -> float:
    """The harder baseline: messages already formatted (as the outbox stores them), only SMTP left."""
    start = time.perf_counter()
    smtp = smtplib.SMTP("127.0.0.1", port)
    for sender, to, data in flat:
        smtp.sendmail(sender, to, data)
    smtp.quit()
    return time.perf_counter() - start


def main(size: int) -> None:
    from crm_workspace.testing import free_port

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(port)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert server.stdout.readline().strip() == "ready"
    try:
        messages = prepared(size)
        with tempfile.TemporaryDirectory() as tmp:
            ws = Workspace.open(Path(tmp) / "mail.db", user="bench", builtins_only=True)
            ws.set_setting("smtp_host", "127.0.0.1")
            ws.set_setting("smtp_port", port)
            start = time.perf_counter()
            entries = [
                {"message": m, "key": f"bench:{i}", "plugin": "bench", "contact_id": i + 1}
                for i, m in enumerate(messages)
            ]
            outbox.enqueue_many(ws, entries)
            queued = time.perf_counter() - start
            flat = [(m["From"].addresses[0].addr_spec, [m["To"]], as_text(m).encode()) for m in messages]
            baseline = bare(port, messages)
            start = time.perf_counter()
            result = outbox.deliver(ws)
            ours = time.perf_counter() - start
            baseline = min(baseline, bare(port, messages))  # the machine is shared: the better of two
            floor = bare_flat(port, flat)
            assert result.sent == size and outbox.counts(ws)["sent"] == size, result
            ws.close()
    finally:
        out, _ = server.communicate("", timeout=60)
    received = int(out.split()[-1])
    assert received == 4 * size, f"the server received {received} messages, expected {4 * size}"
    print(f"  queued {size:,} messages with enqueue_many in {fmt_seconds(queued)}", flush=True)
    report(f"mail_deliver_{size}", ours, baseline, "bare smtplib send_message loop", goal="within 2x (ratio >= 0.5)")
    report(f"mail_deliver_{size}_vs_preformatted", ours, floor, "bare smtplib sendmail of preformatted bytes")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1_000, help="messages to send (1000; issue 19: 10000)")
    main(parser.parse_args().size)
