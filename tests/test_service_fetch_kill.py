"""Kill ``crm service fetch`` in the middle of a mailbox, run it again: every message stored exactly once."""

from __future__ import annotations

import mailbox
import os
import signal
import sqlite3
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path

from crm_workspace.testing import make_workspace

ROOT = Path(__file__).resolve().parents[1]
COUNT = 300


def fetch_process(db: Path, maildir: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'plugins'}"}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "crm_workspace",
            "--db",
            str(db),
            "--user",
            "ana",
            "service",
            "fetch",
            "--mailbox",
            f"maildir:{maildir}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )


def stored(db: Path) -> int:
    with sqlite3.connect(db, timeout=30) as conn:
        return conn.execute("SELECT count(*) FROM ticket_messages WHERE kind = 'inbound'").fetchone()[0]


def test_killed_fetch_then_rerun_stores_each_message_once(tmp_path):
    db = tmp_path / "crm.db"
    ws = make_workspace(db, user="ana")
    ws.set_setting("service_acknowledge", False)
    ws.close()
    maildir = tmp_path / "Maildir"
    box = mailbox.Maildir(maildir, create=True)
    ids = []
    for n in range(COUNT):
        message = EmailMessage()
        message["From"] = f"customer{n % 40}@example.com"
        message["To"] = "support@example.com"
        message["Subject"] = f"Question {n}"
        message["Message-ID"] = f"<q{n}@example.com>"
        message.set_content(f"Question number {n}\n" * 20)
        box.add(message)
        ids.append(message["Message-ID"])

    first = fetch_process(db, maildir)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and first.poll() is None:
        if stored(db) >= 20:
            break
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait(30)
    killed_at = stored(db)
    assert 0 < killed_at < COUNT, f"the first fetch was not stopped midway ({killed_at} of {COUNT})"

    second = fetch_process(db, maildir)
    _out, err = second.communicate(timeout=300)
    assert second.returncode == 0, err.decode()
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT message_id, count(*) FROM ticket_messages WHERE kind = 'inbound' GROUP BY message_id"
        ).fetchall()
        tickets = conn.execute("SELECT count(*) FROM tickets").fetchone()[0]
    assert sorted(mid for mid, _ in rows) == sorted(ids)
    assert all(n == 1 for _, n in rows)
    assert tickets == COUNT
    box = mailbox.Maildir(maildir, create=False)
    assert all("S" in box.get_message(key).get_flags() for key in box.keys())  # noqa: SIM118 - a Maildir iterates messages
