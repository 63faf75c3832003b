"""Nurture sequences against a real SMTP server (aiosmtpd): triggers, steps, branches, exits, retries."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from crm_workspace_marketing.sequences import model, runner

from crm_workspace import CrmError
from crm_workspace.core_rules import record_consent
from crm_workspace.services import privacy
from crm_workspace.testing import configure_smtp

ROOT = Path(__file__).resolve().parents[1]
T0 = "2030-01-01T09:00:00Z"
WELCOME = [
    {
        "kind": "email",
        "args": {
            "subject": "Welcome {{ first_name | default('there') }}",
            "html": "<p>Hi {{ first_name }} from {{ organization | default('nowhere', true) }}</p>",
            "text": "Hi {{ first_name }}",
        },
    },
    {"kind": "wait", "args": {"days": 3}},
    {"kind": "branch", "args": {"on": "opened", "within_days": 2, "yes": 3, "no": 4}},
    {"kind": "task", "args": {"title": "Call {{ first_name }}: opened the welcome", "then": 5}},
    {"kind": "email", "args": {"subject": "Did you see this, {{ first_name }}?", "text": "Second note"}},
]


@pytest.fixture
def ws(workspace, smtpd):
    workspace.set_setting("public_url", "https://crm.example.com")
    configure_smtp(workspace, smtpd.port)
    model.save_sequence(
        workspace,
        {
            "name": "Welcome",
            "trigger_kind": "lifecycle_stage",
            "trigger_args": {"stage": "lead"},
            "exit_on": ["replied", "became_customer", "unsubscribed"],
        },
        WELCOME,
    )
    return workspace


def person(ws, name="Ana", email=None, consent=True):
    row = ws.store.insert(
        "contacts",
        {
            "first_name": name,
            "last_name": "Test",
            "email": email or f"{name.lower()}@example.com",
            "lifecycle_stage": "subscriber",
        },
    )
    if consent:
        record_consent(ws, row["id"], True, source="test")
    return row["id"]


def make_lead(ws, cid):
    ws.store.update("contacts", cid, {"lifecycle_stage": "lead"})


def enrollment(ws, cid):
    return ws.query("SELECT * FROM sequence_enrollments WHERE contact_id = ?", [cid])[0]


def at(days=0, hours=0):
    return runner.iso(runner.parse(T0) + runner.timedelta(days=days, hours=hours))


def test_stage_trigger_enrols_once_and_the_first_email_arrives_with_merge_fields(ws, smtpd):
    cid = person(ws)
    make_lead(ws, cid)
    ws.store.update("contacts", cid, {"lifecycle_stage": "subscriber"})
    make_lead(ws, cid)
    assert ws.store.scalar("SELECT count(*) FROM sequence_enrollments WHERE contact_id = ?", [cid]) == 1
    report = runner.run(ws, T0)
    assert report["emails"] == 1 and report["sent"] == 1
    (msg,) = smtpd.messages
    assert msg["Subject"] == "Welcome Ana" and msg["To"] == "ana@example.com"
    assert "List-Unsubscribe-Post" in msg and "/m/u/" in msg["List-Unsubscribe"]
    assert "Hi Ana from nowhere" in msg.get_body(("html",)).get_content()
    row = enrollment(ws, cid)
    assert row["current_step"] == 2 and row["next_run_at"] == at(days=3)


def test_waits_then_branches_on_an_open_to_the_yes_path(ws, smtpd):
    cid = person(ws)
    make_lead(ws, cid)
    runner.run(ws, T0)
    assert runner.run(ws, at(days=1))["claimed"] == 0  # still waiting
    ref = f"seq:{enrollment(ws, cid)['id']}:0"
    ws.store.insert("marketing_events", {"at": at(days=1), "contact_id": cid, "kind": "open", "machine": 0, "ref": ref})
    runner.run(ws, at(days=3))
    task = ws.query("SELECT * FROM activities WHERE contact_id = ? AND kind = 'task'", [cid])
    assert [t["subject"] for t in task] == ["Call Ana: opened the welcome"]
    assert enrollment(ws, cid)["status"] == "completed"  # the task's "then" ends the sequence
    assert [m["Subject"] for m in smtpd.messages] == ["Welcome Ana"]
    steps = [r["detail"] for r in ws.query("SELECT detail FROM sequence_runs WHERE action = 'branch'")]
    assert steps == ["opened: yes → step 3"]


def test_no_open_takes_the_no_path_after_the_deadline(ws, smtpd):
    cid = person(ws)
    make_lead(ws, cid)
    runner.run(ws, T0)
    runner.run(ws, at(days=3))
    assert enrollment(ws, cid)["current_step"] == 2  # the branch waits for an open
    runner.run(ws, at(days=5, hours=1))
    assert [m["Subject"] for m in smtpd.messages] == ["Welcome Ana", "Did you see this, Ana?"]
    assert not ws.query("SELECT 1 FROM activities WHERE contact_id = ? AND kind = 'task'", [cid])


def test_becoming_a_customer_exits(ws, smtpd):
    cid = person(ws)
    make_lead(ws, cid)
    runner.run(ws, T0)
    ws.store.update("contacts", cid, {"lifecycle_stage": "customer"})
    runner.run(ws, at(days=6))
    row = enrollment(ws, cid)
    assert (row["status"], row["exit_reason"]) == ("exited", "became customer")
    assert len(smtpd.messages) == 1


def test_an_unsubscribed_contact_never_gets_the_next_email(ws, smtpd):
    cid = person(ws)
    make_lead(ws, cid)
    runner.run(ws, T0)
    record_consent(ws, cid, False, source="unsubscribe link")
    runner.run(ws, at(days=6))
    assert len(smtpd.messages) == 1
    assert enrollment(ws, cid)["exit_reason"] == "unsubscribed"


def test_an_erased_contact_leaves_the_sequence(ws, smtpd):
    cid = person(ws)
    make_lead(ws, cid)
    runner.run(ws, T0)
    admin = ws.as_system("test")
    privacy.erase(admin, "ana@example.com", ws.path + ".receipts")
    row = enrollment(ws, cid)
    assert (row["status"], row["exit_reason"]) == ("exited", "erased")
    runner.run(ws, at(days=6))
    assert len(smtpd.messages) == 1


def test_the_runner_asks_the_core_list_who_is_erased_not_the_name(ws, smtpd):
    namesake = ws.store.insert("contacts", {"first_name": "Erased", "last_name": "person", "lifecycle_stage": "lead"})
    runner.run(ws, T0)
    assert enrollment(ws, namesake["id"])["exit_reason"] != "erased"  # a real person without an email
    cid = person(ws)
    privacy.erase(ws.as_system("test"), "ana@example.com", ws.path + ".receipts")
    ws.store.update("contacts", cid, {"first_name": "Renamed"})  # the erased row edited afterwards
    with ws.store.transaction():  # an enrollment the erasure did not end (a module disabled then)
        ws.store.conn.execute(
            "INSERT INTO sequence_enrollments (sequence_id, contact_id, current_step, next_run_at, step_started_at,"
            " status, enrolled_at) SELECT id, ?, 0, ?, ?, 'active', ? FROM sequences",
            [cid, T0, T0, T0],
        )
    runner.run(ws, T0)
    assert (enrollment(ws, cid)["status"], enrollment(ws, cid)["exit_reason"]) == ("exited", "erased")


def test_an_erased_contact_is_never_enrolled_again(ws, smtpd):
    cid = person(ws)
    privacy.erase(ws.as_system("test"), "ana@example.com", ws.path + ".receipts")
    model.save_sequence(
        ws,
        {"name": "Customers", "trigger_kind": "lifecycle_stage", "trigger_args": {"stage": "customer"}},
        WELCOME,
    )
    ws.store.update("contacts", cid, {"lifecycle_stage": "lead"})  # would trigger Welcome
    assert model.enrol_many(ws, [(1, cid), (2, cid)]) == 0
    assert ws.query("SELECT * FROM sequence_enrollments WHERE contact_id = ?", [cid]) == []


def test_running_twice_at_the_same_time_sends_nothing_twice(ws, smtpd, tmp_path):
    cids = [person(ws, f"P{i}") for i in range(3)]
    for cid in cids:
        make_lead(ws, cid)
    cmd = [sys.executable, "-m", "crm_workspace", "--db", ws.path, "sequences", "run", "--now", T0, "--json"]
    env = {"PYTHONPATH": f"{ROOT}:{ROOT / 'plugins'}", "PATH": "/usr/bin:/bin"}
    both = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env) for _ in range(2)]  # at once
    reports = [json.loads(p.communicate(timeout=120)[0])[0] for p in both]
    assert sum(r["claimed"] for r in reports) == 3  # each person claimed by one of them
    assert sum(r["emails"] for r in reports) == 3
    again = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    assert json.loads(again.stdout)[0]["claimed"] == 0
    assert runner.run(ws, T0)["emails"] == 0
    assert sorted(m["To"] for m in smtpd.messages) == sorted(f"p{i}@example.com" for i in range(3))


def test_a_template_that_fails_marks_the_step_failed_without_stopping_others(ws, smtpd):
    model.save_sequence(
        ws,
        {"name": "Broken", "trigger_kind": "tag_added", "trigger_args": {"tag": "vip"}},
        [{"kind": "email", "args": {"subject": "Hi", "text": "{{ first_name.nope() }}"}}],
    )
    bad, good = person(ws, "Bad"), person(ws, "Good")
    ws.store.insert("contact_tags", {"contact_id": bad, "tag": "VIP"})
    make_lead(ws, good)
    report = runner.run(ws, T0)
    assert report["retrying"] == 1 and report["sent"] == 1
    failed = ws.query("SELECT * FROM sequence_runs WHERE outcome = 'failed'")
    assert len(failed) == 1 and "will retry" in failed[0]["detail"]
    for n in (1, 2):
        runner.run(ws, at(days=n))
    row = ws.query("SELECT * FROM sequence_enrollments WHERE contact_id = ?", [bad])[0]
    assert row["status"] == "failed" and "step 0 failed" in row["exit_reason"]
    assert [m["To"] for m in smtpd.messages] == ["good@example.com"]


def test_bad_sequences_get_clear_answers(ws):
    with pytest.raises(CrmError, match="step 0"):
        model.save_sequence(
            ws,
            {"name": "X", "trigger_kind": "tag_added", "trigger_args": {"tag": "a"}},
            [{"kind": "wait", "args": {"days": 0}}],
        )
    with pytest.raises(CrmError, match="lifecycle stage"):
        model.save_sequence(ws, {"name": "Y", "trigger_kind": "lifecycle_stage", "trigger_args": {"stage": "nope"}}, [])
    assert ws.store.scalar("SELECT count(*) FROM sequences") == 1


def test_paused_sequences_wait_and_manual_enrolment(ws, smtpd):
    cid = person(ws)
    model.set_status(ws, "Welcome", "paused")
    model.enrol_by_name(ws, "Welcome", cid)
    assert runner.run(ws, T0)["claimed"] == 0
    model.set_status(ws, "Welcome", "active")
    assert runner.run(ws, T0)["emails"] == 1
    with pytest.raises(CrmError, match="already"):
        model.enrol_by_name(ws, "Welcome", cid)
    frame = ws.df("sequences.runs")
    assert set(frame["action"]) >= {"email", "wait"}
    assert ws.df("sequences.enrollments")["status"].tolist() == ["active"]


def test_segment_entries_and_confirmed_sign_ups_enrol(ws, smtpd):
    from crm_workspace_marketing import forms, segments

    segments.save_segment(ws, "Webinar", kind="static")
    forms.save_form(ws, {"slug": "news", "title": "News"})
    model.save_sequence(
        ws,
        {"name": "Webinar", "trigger_kind": "enters_segment", "trigger_args": {"segment": "Webinar"}},
        [{"kind": "task", "args": {"title": "Follow up"}}],
    )
    model.save_sequence(
        ws,
        {"name": "Signed up", "trigger_kind": "form_submitted", "trigger_args": {"form": "news"}},
        [{"kind": "set_field", "args": {"field": "source", "value": "newsletter"}}],
    )
    cid = person(ws, "Seg")
    segments.add_members(ws, "Webinar", [cid])
    submission = forms.submit(ws, "news", email="new@example.com", first_name="Nia")
    forms.confirm(ws, submission["confirm_url"].rsplit("/", 1)[-1])
    report = runner.run(ws, runner.utcnow())
    assert report["enrolled"] == 1
    new = ws.store.scalar("SELECT id FROM contacts WHERE email = 'new@example.com'")
    assert ws.store.get("contacts", new)["source"] == "newsletter"
    assert ws.query("SELECT subject FROM activities WHERE contact_id = ? AND kind = 'task'", [cid])


def test_viewers_see_no_editor(ws):
    from crm_workspace_marketing.sequences.views import SequencesPage

    viewer = ws.as_user(ws.user, max_role="viewer")
    assert viewer.read_only
    page = SequencesPage(workspace=viewer)
    assert page.save.disabled and page.steps.disabled
    assert "read only" in page.__panel__()[0].object


def test_bounced_addresses_leave_and_machine_opens_do_not_count(ws, smtpd):
    from crm_workspace_marketing import bounces

    opener, bounced = person(ws, "Opener"), person(ws, "Bounced")
    for cid in (opener, bounced):
        make_lead(ws, cid)
    runner.run(ws, T0)
    bounces.bounce(ws, "bounced@example.com", "hard", "550 5.1.1 no such user")
    ref = f"seq:{enrollment(ws, opener)['id']}:0"
    ws.store.insert(
        "marketing_events",
        {"at": at(days=1), "contact_id": opener, "kind": "open", "machine": 1, "reason": "scanner", "ref": ref},
    )
    runner.run(ws, at(days=5, hours=1))
    assert enrollment(ws, bounced)["exit_reason"] == "address suppressed (bounced)"
    assert not ws.query("SELECT 1 FROM activities WHERE contact_id = ? AND kind = 'task'", [opener])  # the no-path
    assert [m["To"] for m in smtpd.messages].count("opener@example.com") == 2


CLICKY = [
    {
        "kind": "email",
        "args": {
            "subject": "Our offer",
            "html": '<p>See <a href="https://example.com/offer?a=1&amp;b=2">the offer</a></p>',
            "text": "See https://example.com/offer",
        },
    },
    {"kind": "branch", "args": {"on": "clicked", "within_days": 2, "yes": 2, "no": 3}},
    {"kind": "task", "args": {"title": "Call {{ first_name }}: clicked", "then": 4}},
    {"kind": "email", "args": {"subject": "Not interested?", "text": "Second note"}},
]


def test_a_sequence_link_redirects_records_its_ref_and_branch_on_clicked_says_yes(ws, smtpd):
    from crm_workspace_marketing import tracking
    from crm_workspace_marketing.core import sign
    from marketing_helpers import links_in, served_routes

    ws.set_setting("marketing_machine_seconds", 0)
    seq = model.save_sequence(
        ws, {"name": "Offer", "trigger_kind": "lifecycle_stage", "trigger_args": {"stage": "advocate"}}, CLICKY
    )
    other = ws.store.insert("campaigns", {"name": "Unrelated", "status": "sent"})
    cid = person(ws, "Clara")
    start = runner.utcnow()  # the click is recorded at the real time: the mail goes out just before
    model.enrol(ws, seq["id"], cid, now=start)
    with served_routes(ws) as routes:
        runner.run(ws, start)
        (message,) = smtpd.messages
        (link,) = [u for u in links_in(message) if "/m/l/" in u]
        ref = f"seq:{enrollment(ws, cid)['id']}:0"
        ws.store.insert(  # a campaign's click by the same person is not this mail's
            "marketing_events", {"at": start, "contact_id": cid, "kind": "click", "campaign_id": other["id"]}
        )
        status, headers, _ = routes.request(link + "?u=https://evil.example/")
        assert status == 302 and headers["Location"] == "https://example.com/offer?a=1&b=2"
        forged = sign(ws, tracking.CLICK, {"r": ref, "k": cid, "u": "https://evil.example/"})
        token = link.rsplit("/", 1)[1]
        body, mac = token.split(".")
        for bad in (f"{routes.base}/m/l/{forged}", f"{routes.base}/m/l/{body[:-2]}xx.{mac}"):
            status, headers, page = routes.request(bad)
            assert status == 400 and "Location" not in headers and "Nothing was changed" in page
    clicks = ws.query("SELECT * FROM marketing_events WHERE kind = 'click' AND campaign_id IS NULL")
    assert [(c["url"], c["ref"], c["contact_id"]) for c in clicks] == [("https://example.com/offer?a=1&b=2", ref, cid)]
    runner.run(ws, runner.iso(runner.parse(start) + runner.timedelta(hours=2)))  # the branch looks again hourly
    tasks = ws.query("SELECT subject FROM activities WHERE contact_id = ? AND kind = 'task'", [cid])
    assert [t["subject"] for t in tasks] == ["Call Clara: clicked"]
    assert ws.query("SELECT detail FROM sequence_runs WHERE action = 'branch'")[-1]["detail"] == "clicked: yes → step 2"
    assert [m["Subject"] for m in smtpd.messages] == ["Our offer"]


def test_sequences_and_campaigns_share_one_mailable_rule(ws):
    from crm_workspace_marketing import bounces, campaigns
    from crm_workspace_marketing.mailable import mailable_sql

    assert mailable_sql("c") in campaigns.AUDIENCE_SQL
    ok, half, none, gone = (
        person(ws, "Ok"),
        person(ws, "Half"),
        person(ws, "None", consent=False),
        person(ws, "Gone"),
    )
    ws.store.update("contacts", half, {"email": None})
    bounces.bounce(ws, "gone@example.com", "hard", "550 5.1.1 no such user")
    reasons = {cid: runner.mail_refusal(ws, ws.store.get("contacts", cid)) for cid in (ok, half, none, gone)}
    assert reasons == {
        ok: None,
        half: "no e-mail address",
        none: "no marketing consent",
        gone: "address suppressed (bounced)",
    }
    sql = f"SELECT c.id FROM contacts c WHERE c.id IN (?, ?, ?, ?) AND {mailable_sql('c')}"
    assert [r["id"] for r in ws.query(sql, [ok, half, none, gone])] == [ok]


def test_the_overview_says_each_trigger_in_a_whole_sentence_that_wraps():
    import pandas as pd
    from crm_workspace_marketing.sequences.model import describe_trigger
    from crm_workspace_marketing.views.common import table

    assert describe_trigger("lifecycle_stage", {"stage": "marketing_qualified"}) == (
        "a contact's lifecycle stage becomes Marketing qualified"
    )
    assert describe_trigger("tag_added", {"tag": "event-2026"}) == "the tag “event-2026” is added to a contact"
    assert describe_trigger("form_submitted", {}) == "a contact submits any form"
    shown = table(pd.DataFrame([{"name": "Welcome", "trigger": describe_trigger("enters_segment", {"segment": "x"})}]))
    assert shown.formatters["trigger"] == "wrap" and shown.titles["trigger"] == "Starts when"
    assert shown.widths["trigger"] >= 300


def test_a_tag_starts_a_sequence_that_sets_the_stage_and_a_reply_exits_it(ws, smtpd):
    model.save_sequence(
        ws,
        {"name": "Warm", "trigger_kind": "tag_added", "trigger_args": {"tag": "warm"}, "exit_on": ["replied"]},
        [
            {"kind": "set_stage", "args": {"stage": "marketing_qualified"}},
            {"kind": "wait", "args": {"days": 2}},
            {"kind": "email", "args": {"subject": "Still warm, {{ first_name }}?", "text": "Hello"}},
        ],
    )
    cid = person(ws, "Tia")
    ws.store.insert("contact_tags", {"contact_id": cid, "tag": "warm"})
    runner.run(ws, T0)
    assert ws.store.get("contacts", cid)["lifecycle_stage"] == "marketing_qualified"
    assert enrollment(ws, cid)["status"] == "active" and not smtpd.messages
    ws.store.insert(
        "activities",
        {"contact_id": cid, "kind": "email", "subject": "Re: hello", "occurred_at": at(days=1)},
    )
    runner.run(ws, at(days=3))
    row = enrollment(ws, cid)
    assert (row["status"], row["exit_reason"]) == ("exited", "replied") and not smtpd.messages
