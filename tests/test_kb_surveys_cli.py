"""`crm kb` and `crm surveys` on the demo workspace, and `crm privacy` covering survey answers."""

from __future__ import annotations

import json

from test_cli import assert_clean_error, crm

from crm_workspace import Workspace


def test_kb_commands(demo_db):
    db = str(demo_db)
    listed = json.loads(crm("--db", db, "kb", "list", "--json").stdout)
    assert 12 <= len(listed) <= 20 and {a["status"] for a in listed} == {"draft", "published"}
    found = json.loads(crm("--db", db, "kb", "search", "resume", "--all", "--json").stdout)
    assert [a["slug"] for a in found] == ["resume-of-known-issues"]
    assert json.loads(crm("--db", db, "kb", "search", "resume", "--json").stdout) == []  # a draft
    result = crm("--db", db, "--user", "ana", "kb", "publish", "resume-of-known-issues")
    assert result.returncode == 0 and "published" in result.stdout
    assert len(json.loads(crm("--db", db, "kb", "search", "résumé", "--json").stdout)) == 1
    assert_clean_error(crm("--db", db, "--user", "ana", "kb", "publish", "no-such-article"), "no-such-article")


def test_surveys_commands(demo_db):
    db = str(demo_db)
    answers = json.loads(crm("--db", db, "surveys", "list", "--json").stdout)
    assert answers and {a["kind"] for a in answers} == {"csat", "nps"}
    summary = json.loads(crm("--db", db, "surveys", "summary", "--json").stdout)[0]
    assert 0 <= summary["csat_pct"] <= 100 and -100 <= summary["nps"] <= 100
    now = ("--now", "2031-01-02T10:00:00Z")  # a period nobody answered yet
    dry = crm("--db", db, "surveys", "send-nps", "--dry-run", *now)
    due = dry.stdout.splitlines()
    assert due and "due" in dry.stderr
    ws = Workspace.open(demo_db, user="ana")
    sent_before = ws.store.scalar("SELECT count(*) FROM mail_outbox WHERE key LIKE 'nps:%'")  # the demo's period
    assert crm("--db", db, "--user", "ana", "surveys", "send-nps", *now).stdout.splitlines() == due
    assert crm("--db", db, "--user", "ana", "surveys", "send-nps", *now).stdout == ""  # idempotent
    assert ws.store.scalar("SELECT count(*) FROM mail_outbox WHERE key LIKE 'nps:%'") == sent_before + len(due)
    ws.close()


def test_privacy_covers_survey_answers(demo_db, tmp_path):
    ws = Workspace.open(demo_db, user="ana")
    person = ws.query(
        "SELECT c.id, c.email FROM survey_responses r JOIN contacts c ON c.id = r.contact_id"
        " WHERE c.email IS NOT NULL ORDER BY r.id LIMIT 1"
    )[0]
    ws.store.update("survey_responses", ws.store.scalar("SELECT id FROM survey_responses WHERE contact_id = ?",
                    [person["id"]]), {"comment": "my neighbour Quentin Zebulon told me"})  # fmt: skip
    ws.close()
    out = tmp_path / "export"
    assert (
        crm("--db", str(demo_db), "--user", "ana", "privacy", "export", person["email"], "--out", str(out)).returncode
        == 0
    )
    exported = json.loads(next(out.glob("*.json")).read_text())
    assert any("Quentin Zebulon" in (r["comment"] or "") for r in exported["survey_responses"])
    erased = crm(
        "--db",
        str(demo_db),
        "--user",
        "ana",
        "privacy",
        "erase",
        person["email"],
        "--yes",
        "--receipt-dir",
        str(tmp_path),
    )
    assert erased.returncode == 0, erased.stderr
    ws = Workspace.open(demo_db, user="ana")
    assert not ws.query("SELECT 1 FROM survey_responses WHERE comment LIKE '%Quentin%'")
    ws.close()
