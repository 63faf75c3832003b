"""The marketing command line, the tick, the click rule, and privacy (export and erasure cover marketing)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from crm_workspace_marketing import sending, tracking
from crm_workspace_marketing.model import MachineRules
from marketing_helpers import audience, campaign

from crm_workspace import Workspace
from crm_workspace.services import privacy
from crm_workspace.testing import configure_smtp

ROOT = Path(__file__).resolve().parents[1]


def crm(db, *args):
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH") or f"{ROOT}:{ROOT / 'plugins'}"}
    done = subprocess.run(
        [sys.executable, "-m", "crm_workspace", "--db", str(db), "--user", "ana", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    return done


@pytest.fixture
def ws(demo_db):
    workspace = Workspace.open(demo_db, user="ana")
    yield workspace
    workspace.close()


def test_campaigns_send_run_and_tick_from_the_command_line(ws, demo_db, smtpd):
    configure_smtp(ws, smtpd.port)
    audience(ws, 6, "cli")
    campaign(ws, "From the shell", "cli")
    listed = json.loads(crm(demo_db, "marketing", "campaigns", "--json").stdout)
    assert {"November product news", "From the shell"} <= {r["name"] for r in listed}
    assert next(r for r in listed if r["name"] == "November product news")["unique_opens"] > 0
    done = crm(demo_db, "marketing", "send", "From the shell")
    assert done.returncode == 0 and "sent 2" in done.stdout, done.stderr
    report = json.loads(crm(demo_db, "marketing", "run", "--json").stdout)[0]
    assert report["sent"] == 0 and report["queued"] == 0  # nothing left: cron-safe
    assert crm(demo_db, "tick").returncode == 0
    missing = crm(demo_db, "marketing", "send", "No such campaign")
    assert missing.returncode != 0 and "no campaign named" in missing.stderr and "Traceback" not in missing.stderr


def test_a_click_qualifies_a_lead_unless_the_team_turns_it_off(ws):
    lead = ws.query("SELECT id FROM contacts WHERE lifecycle_stage = 'lead' ORDER BY id LIMIT 2")
    tracking.record_event(
        ws,
        "click",
        campaign_id=1,
        contact_id=lead[0]["id"],
        url="https://example.com/x",
        user_agent="Mozilla/5.0",
        machine=None,
    )
    assert ws.store.get("contacts", lead[0]["id"])["lifecycle_stage"] == "marketing_qualified"
    rules = MachineRules(workspace=ws)
    rules.click_qualifies = False
    rules.agents += "\nmy-own-scanner"
    rules.save()
    tracking.record_event(
        ws, "click", campaign_id=1, contact_id=lead[1]["id"], url="https://example.com/x", user_agent="Mozilla/5.0"
    )
    assert ws.store.get("contacts", lead[1]["id"])["lifecycle_stage"] == "lead"
    event = tracking.record_event(ws, "open", campaign_id=1, contact_id=lead[1]["id"], user_agent="My-Own-Scanner/2")
    assert event["machine"] == 1


def test_privacy_export_and_erasure_cover_marketing(ws, smtpd, tmp_path):
    configure_smtp(ws, smtpd.port)
    people = audience(ws, 3, "gdpr")
    campaign(ws, "Erase me", "gdpr")
    sending.send(ws, "Erase me")
    person = ws.store.get("contacts", people["given"][0])
    tracking.record_event(
        ws, "open", campaign_id=None, contact_id=person["id"], ip="192.0.2.1", user_agent="Mozilla/5.0"
    )
    json_path, _xlsx = privacy.export(ws, person["email"], tmp_path)
    exported = json.loads(Path(json_path).read_text())
    assert {"campaigns_received", "marketing_events", "segment_memberships"} <= set(exported)
    privacy.erase(ws, person["email"], tmp_path)
    assert not ws.query("SELECT 1 FROM segment_members WHERE contact_id = ?", [person["id"]])
    assert (
        ws.query("SELECT email FROM campaign_recipients WHERE contact_id = ?", [person["id"]])[0]["email"]
        != person["email"]
    )
    events = ws.query("SELECT ip, user_agent FROM marketing_events WHERE contact_id = ?", [person["id"]])
    assert events and all(e["ip"] in (None, "[erased]") for e in events)
    assert ws.store.get("contacts", person["id"])["marketing_consent"] is None  # erased: never mailed again


def test_an_smtp_server_that_is_down_keeps_everything_queued_and_says_why(ws, demo_db):
    from crm_workspace.testing import free_port

    configure_smtp(ws, free_port())  # nobody listens there
    audience(ws, 6, "down")
    campaign(ws, "While down", "down")
    done = crm(demo_db, "marketing", "send", "While down")
    assert done.returncode != 0 and "SMTP server" in done.stderr and "Traceback" not in done.stderr
    state = sending.progress(ws, ws.store.scalar("SELECT id FROM campaigns WHERE name = 'While down'"))
    assert state["queued"] == 2 and state["sent"] == 0  # queued, nothing lost: the next run sends them


def test_marketing_run_also_runs_due_sequence_steps_only_when_sequences_is_enabled(ws, demo_db, smtpd):
    configure_smtp(ws, smtpd.port)
    report = json.loads(crm(demo_db, "marketing", "run", "--json").stdout)[0]
    assert set(report["sequences"]) >= {"steps", "emails", "sent"}
    assert json.loads(crm(demo_db, "marketing", "run", "--json").stdout)[0]["sequences"]["emails"] == 0  # cron-safe
    ws.disable("sequences")
    done = crm(demo_db, "marketing", "run", "--json")
    assert done.returncode == 0, done.stderr
    assert "sequences" not in json.loads(done.stdout)[0]


def test_segments_json_shows_each_filter_with_its_groups(ws, demo_db):
    from crm_workspace_marketing import segments

    grouped = {
        "match": "all",
        "conditions": [
            {"field": "lifecycle_stage", "op": "is", "value": "lead"},
            {"match": "any", "conditions": [{"field": "tags", "op": "has_any", "value": ["vip"]}]},
        ],
    }
    segments.save_segment(ws, "Grouped on the CLI", grouped)
    done = crm(demo_db, "marketing", "segments", "--json")
    assert done.returncode == 0, done.stderr
    rows = {r["name"]: r for r in json.loads(done.stdout)}
    assert rows["Grouped on the CLI"]["filter"] == grouped
    assert "(tags has any of vip)" in rows["Grouped on the CLI"]["conditions"]
    assert rows["Grouped on the CLI"]["members"] == segments.count(ws, grouped)


def test_a_static_list_from_an_import_batch(ws, demo_db, tmp_path):
    import re

    from crm_workspace_marketing import segments
    from crm_workspace_marketing.imports import batch_contacts, import_batches
    from crm_workspace_marketing.model import MarketingModel
    from crm_workspace_marketing.views.segments import SegmentsTab

    known = ws.query("SELECT id, email FROM contacts WHERE email IS NOT NULL ORDER BY id LIMIT 1")[0]
    sheet = tmp_path / "fair.csv"
    sheet.write_text(
        "first_name,last_name,email,title\n"
        "Imma,Port,imma.port@example.com,Buyer\n"
        "Otto,Port,otto.port@example.com,CFO\n"
        f"Known,Person,{known['email']},Head of imports\n"
    )
    done = crm(demo_db, "import", str(sheet), "--entity", "contacts")
    assert done.returncode == 0, done.stderr
    batch = re.search(r"batch: (\S+)", done.stdout).group(1)
    imported = {
        r["id"]
        for r in ws.query("SELECT id FROM contacts WHERE email IN ('imma.port@example.com', 'otto.port@example.com')")
    }
    assert len(imported) == 2
    expected = imported | {known["id"]}  # created and updated
    assert set(batch_contacts(ws, batch)) == expected
    assert batch in {b["id"] for b in import_batches(ws)}

    assert crm(demo_db, "marketing", "segment-save", "Fair visitors", "--static").returncode == 0
    done = crm(demo_db, "marketing", "list-add", "Fair visitors", "--from-import", batch)
    assert done.returncode == 0, done.stderr
    assert "added 3, already on the list 0 (the import's 3 contacts)" in done.stdout
    assert set(ws.df("marketing.segment", name="Fair visitors").id) == expected
    again = crm(demo_db, "marketing", "list-add", "Fair visitors", "--from-import", batch)
    assert "added 0, already on the list 3" in again.stdout

    bad = crm(demo_db, "marketing", "list-add", "Fair visitors", "--from-import", "nope")
    assert bad.returncode != 0 and "no import batch 'nope'" in bad.stderr and "Traceback" not in bad.stderr

    # the page: choose the import, name a new list
    tab = SegmentsTab(model=MarketingModel(workspace=ws))
    assert batch in tab.batch.options.values()
    tab.new_list.value = "Fair (page)"
    tab.batch.value = batch
    tab._add_batch()
    assert set(ws.df("marketing.segment", name="Fair (page)").id) == expected
    assert "Added 3 of the import&#x27;s 3 contacts" in str(tab.list_message[0].object)
    assert segments.get_segment(ws, "Fair (page)")["kind"] == "static"
