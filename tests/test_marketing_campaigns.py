"""Campaigns against a real SMTP server (aiosmtpd): who receives, the headers, templates, resuming, A/B tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from crm_workspace_marketing import bounces, campaigns, sending, tracking
from crm_workspace_marketing.core import TemplateProblem
from marketing_helpers import audience, campaign, unsubscribe_link

from crm_workspace import ValidationError, Workspace
from crm_workspace.testing import configure_smtp, smtp_server

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def ws(demo_db):
    workspace = Workspace.open(demo_db, user="ana")
    workspace.set_setting("public_url", "https://crm.example.com")
    yield workspace
    workspace.close()


def test_a_campaign_reaches_exactly_the_consented_members_once_with_correct_headers(ws, smtpd):
    configure_smtp(ws, smtpd.port)
    people = audience(ws, 12, "news")
    suppressed = people["given"][1]
    bounces.bounce(ws, ws.store.get("contacts", suppressed)["email"], "hard", "550 5.1.1 no such user")
    campaign(ws, "Spring", "news")
    result = sending.send(ws, "Spring")
    wanted = sorted(ws.store.get("contacts", i)["email"] for i in people["given"] if i != suppressed)
    assert sorted(smtpd.recipients()) == wanted  # consented only, the suppressed address skipped, each once
    assert result["sent"] == len(wanted) and result["status"] == "sent"
    message = smtpd.messages[0]
    link = unsubscribe_link(message)
    assert link.startswith("https://crm.example.com/m/u/")
    assert str(message["List-Unsubscribe"]).endswith("<mailto:crm@localhost?subject=unsubscribe>")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Message-ID"] and message["Date"] and message.is_multipart()
    assert str(message["Subject"]).startswith("News for P")
    html = message.get_body(("html",)).get_content()
    assert "https://crm.example.com/m/c/" in html and "/m/o/" in html and "example.com/offer" not in html
    assert "Unsubscribe" in html and link in message.get_body(("plain",)).get_content()
    # sending again sends nobody twice
    assert sending.send(ws, "Spring")["queued"] == 0
    assert len(smtpd.messages) == len(wanted)


def test_merge_fields_are_escaped_in_html_and_kept_in_text(ws, smtpd):
    configure_smtp(ws, smtpd.port)
    people = audience(ws, 3, "esc")
    ws.store.update("contacts", people["given"][0], {"first_name": "<b>Bob</b> & <script>x()</script>"})
    campaign(ws, "Escape", "esc")
    sending.send(ws, "Escape")
    (message,) = smtpd.messages
    html = message.get_body(("html",)).get_content()
    assert "&lt;b&gt;Bob&lt;/b&gt; &amp; &lt;script&gt;" in html and "<script>" not in html
    assert "Hello <b>Bob</b> & <script>x()</script>" in message.get_body(("plain",)).get_content()


def test_a_template_that_does_not_render_is_refused_and_queues_nothing(ws, smtpd):
    configure_smtp(ws, smtpd.port)
    with pytest.raises(ValidationError, match="line 1"):
        campaign(ws, "Broken", "Newsletter audience", html="<p>{{ first_name </p>")
    with pytest.raises(ValidationError, match=r"not allowed|unsafe"):
        campaign(ws, "Sneaky", "Newsletter audience", subject="{{ ''.__class__.__mro__ }}")
    people = audience(ws, 3, "tpl")
    ws.store.update("contacts", people["given"][0], {"first_name": None})
    campaign(ws, "Upper", "tpl", html="<p>{{ first_name.upper() }}</p>")  # fine for the sample, not for everyone
    with pytest.raises(TemplateProblem, match="HTML"):
        sending.send(ws, "Upper")
    assert (
        ws.store.scalar(
            "SELECT count(*) FROM mail_outbox WHERE ref_id = ?", [str(campaigns.get_campaign(ws, "Upper")["id"])]
        )
        == 0
    )
    upper = campaigns.get_campaign(ws, "Upper")["id"]
    assert ws.store.scalar("SELECT count(*) FROM campaign_recipients WHERE campaign_id = ?", [upper]) == 0
    assert campaigns.get_campaign(ws, "Upper")["status"] == "draft" and not smtpd.messages


def test_preview_as_a_contact_and_a_test_send(ws, smtpd):
    configure_smtp(ws, smtpd.port)
    people = audience(ws, 3, "pre")
    campaign(ws, "Preview", "pre")
    shown = sending.preview(ws, "Preview", people["given"][0])
    assert shown["subject"] == "News for P0" and "Hello P0" in shown["html"]
    sending.send_test(ws, "Preview", "me@example.com", people["given"][0])
    (message,) = smtpd.messages
    assert message["To"] == "me@example.com" and str(message["Subject"]).startswith("[Test] News for P0")
    assert tracking.read_token(ws, tracking.UNSUBSCRIBE, unsubscribe_link(message).rsplit("/", 1)[1])["t"] == 1
    assert campaigns.get_campaign(ws, "Preview")["status"] == "draft"  # a test sends nothing to the audience


def test_a_killed_sender_resumes_and_everyone_gets_exactly_one(demo_db, tmp_path):
    ws = Workspace.open(demo_db, user="ana")
    people = audience(ws, 45, "kill")
    campaign(ws, "Resume", "kill")
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH") or f"{ROOT}:{ROOT / 'plugins'}"}
    command = [
        sys.executable,
        "-m",
        "crm_workspace",
        "--db",
        str(demo_db),
        "--user",
        "ana",
        "marketing",
        "send",
        "Resume",
    ]
    with smtp_server() as server:
        configure_smtp(ws, server.port)
        ws.close()
        slow = subprocess.Popen(
            [*command, "--per-minute", "600"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 60
        while len(server.messages) < 5 and time.monotonic() < deadline and slow.poll() is None:
            time.sleep(0.05)
        slow.send_signal(signal.SIGKILL)
        slow.wait(30)
        first = len(server.messages)
        assert 5 <= first < 15, first
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "sent" in done.stdout
        received = server.recipients()
    ws = Workspace.open(demo_db, user="ana")
    unknown = {r["recipient"] for r in ws.query("SELECT recipient FROM mail_outbox WHERE status = 'unknown'")}
    wanted = {ws.store.get("contacts", i)["email"] for i in people["given"]}
    assert len(received) == len(set(received))  # nobody twice
    assert set(received) | unknown == wanted and len(unknown) <= 1
    assert campaigns.get_campaign(ws, "Resume")["status"] == "sent"
    ws.close()


def test_an_ab_test_sends_variants_to_a_share_then_the_winner_to_the_rest(ws, smtpd):
    configure_smtp(ws, smtpd.port)
    audience(ws, 60, "ab")  # 20 consenting
    ab = {
        "variants": [{"subject": "B: {{ first_name }}, a question"}],
        "share": 0.4,
        "metric": "opens",
        "wait_hours": 2,
    }
    row = campaign(ws, "AB", "ab", ab=json.dumps(ab))
    first = sending.send(ws, "AB")
    assert first["queued"] == 8 and first["status"] == "sending"  # 40% of 20, half each
    subjects = [str(m["Subject"]) for m in smtpd.messages]
    assert sum(s.startswith("B:") for s in subjects) == 4
    tested = ws.query("SELECT contact_id, variant FROM campaign_recipients WHERE campaign_id = ?", [row["id"]])
    for person in [t for t in tested if t["variant"] == 1][:3]:  # variant B is opened more
        tracking.record_event(
            ws,
            "open",
            campaign_id=row["id"],
            contact_id=person["contact_id"],
            user_agent="Mozilla/5.0",
            at="2099-01-01T00:00:00Z",
        )
    started = campaigns.ab_config(campaigns.get_campaign(ws, "AB"))["test_started_at"]
    early = sending.run(ws, started)  # the wait is not over: no decision
    assert early["decided"] == [] and len(smtpd.messages) == 8
    later = (datetime.fromisoformat(started.replace("Z", "+00:00")) + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    report = sending.run(ws, later)
    assert report["decided"] == ["AB"] and report["sent"] == 12
    decided = campaigns.ab_config(campaigns.get_campaign(ws, "AB"))
    assert decided["winner"] == 1 and decided["phase"] == "decided"
    assert all(str(m["Subject"]).startswith("B:") for m in smtpd.messages[8:])
    assert len(set(smtpd.recipients())) == 20 and campaigns.get_campaign(ws, "AB")["status"] == "sent"
    assert sending.run(ws, "2099-01-02T00:00:00Z")["sent"] == 0


def test_a_refused_address_is_bounced_and_suppressed(ws):
    people = audience(ws, 6, "bnc")
    refused = ws.store.get("contacts", people["given"][0])["email"]
    with smtp_server(refuse={refused: 550}) as server:
        configure_smtp(ws, server.port)
        campaign(ws, "Bounce", "bnc")
        result = sending.send(ws, "Bounce")
        assert result["failed"] == 1 and refused not in server.recipients()
    row = ws.query("SELECT * FROM marketing_suppressions WHERE email = ?", [refused])[0]
    assert row["suppressed"] == 1 and row["reason"] == "hard bounce" and "550" in row["detail"]
    assert campaigns.audience_count(ws, campaign(ws, "Again", "bnc")) == len(people["given"]) - 1


def test_an_ab_test_can_pick_the_winner_by_influenced_revenue(ws, smtpd):
    """Variant A is opened more, but only B's readers open deals afterwards: by revenue B wins; a machine
    open, a lost deal and a deal made before the mail count for nobody."""
    configure_smtp(ws, smtpd.port)
    audience(ws, 60, "rev")  # 20 consenting
    ab = {"variants": [{"subject": "B: {{ first_name }}"}], "share": 0.4, "metric": "revenue", "wait_hours": 1}
    row = campaign(ws, "Rev", "rev", ab=json.dumps(ab))
    sending.send(ws, "Rev")
    started = campaigns.ab_config(campaigns.get_campaign(ws, "Rev"))["test_started_at"]
    tested = ws.query("SELECT contact_id, variant FROM campaign_recipients WHERE campaign_id = ?", [row["id"]])
    a = [t["contact_id"] for t in tested if t["variant"] == 0]
    b = [t["contact_id"] for t in tested if t["variant"] == 1]
    before = ws.store.insert("deals", {"title": "Before the mail", "contact_id": a[3], "amount": 90000})
    ws.store.update("deals", before["id"], {"created_at": "2000-01-01T00:00:00Z"})  # an opener's older deal

    start = datetime.fromisoformat(started.replace("Z", "+00:00"))

    def at(minutes):  # after the machine window of the delivery
        return (start + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def opened(contact_id, agent="Mozilla/5.0"):
        tracking.record_event(ws, "open", campaign_id=row["id"], contact_id=contact_id, user_agent=agent, at=at(10))

    def deal(title, contact_id, amount, **changes):
        made = ws.store.insert("deals", {"title": title, "contact_id": contact_id, "amount": amount})
        ws.store.update("deals", made["id"], {"created_at": at(30), **changes})

    for person in a[:4]:
        opened(person)
    opened(b[0])
    ws.set_setting("marketing_scanner_agents", ["(?i)barracuda"])
    opened(b[1], agent="Barracuda scanner")  # a machine: its deal is not influenced
    deal("Won by B", b[0], 5000)
    deal("Scanner", b[1], 80000)
    deal("Lost by A", a[0], 70000, status="lost", lost_reason="price")
    frame = ws.df("marketing.ab", campaign="Rev").set_index("name")
    assert frame.loc["A", "opens"] > frame.loc["B", "opens"]
    assert frame.loc["A", "revenue"] == 0 and frame.loc["B", "revenue"] == 5000
    later = (datetime.fromisoformat(started.replace("Z", "+00:00")) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert sending.run(ws, at(40))["decided"] == []  # the wait is not over
    assert sending.run(ws, later)["decided"] == ["Rev"]
    decided = campaigns.ab_config(campaigns.get_campaign(ws, "Rev"))
    assert decided["winner"] == 1 and decided["metric"] == "revenue"
    assert {r["variant"]: r["revenue"] for r in decided["results"]} == {0: 0, 1: 5000}
    with pytest.raises(ValidationError, match="opens or clicks or revenue"):
        campaign(ws, "Bad metric", "rev", ab=json.dumps({**ab, "metric": "likes"}))
