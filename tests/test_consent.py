"""Consent is changed only by an explicit consent action: an import never re-grants a withdrawal."""

from __future__ import annotations

import pytest
from crm_workspace_excel.execute import execute
from crm_workspace_excel.plan import plan_import
from crm_workspace_excel.prepare import prepare
from excel_workbooks import simple

from crm_workspace import CrmError, ValidationError
from crm_workspace.core_rules import record_consent

HEADERS = ["First Name", "Last Name", "Email", "Title", "Marketing Consent"]


def contact(ws, email, consent):
    return ws.store.insert(
        "contacts",
        {"first_name": "Ida", "last_name": email.split("@")[0], "email": email, "marketing_consent": consent},
    )


def import_rows(ws, path, rows):
    path = simple(path, HEADERS, rows)
    prepared = prepare(ws, path, entity="contacts")
    assert prepared.mapping["Marketing Consent"] == "marketing_consent"
    plan = plan_import(ws, prepared.table, prepared.entity, prepared.mapping, "update", file_name=path.name)
    execute(ws, plan)
    return plan


def test_an_import_does_not_regrant_a_withdrawal_and_reports_the_row(tmp_path, workspace):
    gone = contact(workspace, "gone@example.com", 0)
    consent_at = gone["consent_at"]
    plan = import_rows(workspace, tmp_path / "tradeshow.xlsx", [["Ida", "Gone", "gone@example.com", "Buyer", "yes"]])
    row = workspace.store.get("contacts", gone["id"])
    assert row["marketing_consent"] == 0 and row["consent_at"] == consent_at  # the withdrawal stands
    assert row["title"] == "Buyer" and row["last_name"] == "Gone"  # the rest of the row is imported
    assert not plan.rejects
    [(index, reason)] = plan.consent_kept
    assert "withdrawn" in reason and "explicit consent action" in reason
    assert plan.problems[(index, "Marketing Consent")] == reason
    assert any("imported without marketing_consent" in line for line in plan.details())
    assert "1 withdrawn marketing consent kept" in plan.summary()


def test_an_ordinary_update_may_not_regrant_either(workspace):
    gone = contact(workspace, "gone@example.com", "no")
    with pytest.raises(ValidationError, match="explicit consent action"):
        workspace.store.update("contacts", gone["id"], {"marketing_consent": "yes"})
    assert workspace.store.get("contacts", gone["id"])["marketing_consent"] == 0


def test_an_import_gives_consent_to_a_contact_who_never_answered_with_source_and_time(tmp_path, workspace):
    never = contact(workspace, "never@example.com", None)
    import_rows(
        workspace,
        tmp_path / "webinar.xlsx",
        [["Ida", "Never", "never@example.com", "", "yes"], ["Jo", "New", "new@example.com", "", "yes"]],
    )
    for row in (
        workspace.store.get("contacts", never["id"]),
        workspace.store.query("SELECT * FROM contacts WHERE email = 'new@example.com'")[0],
    ):
        assert row["marketing_consent"] == 1
        assert row["consent_source"] == "import of webinar.xlsx" and row["consent_at"]


def test_the_explicit_consent_action_regrants_with_source_and_time(workspace):
    gone = contact(workspace, "gone@example.com", 0)
    with pytest.raises(CrmError, match="source"):
        record_consent(workspace, gone["id"], True, " ")
    row = record_consent(workspace, gone["id"], True, "signed form at the 2026 fair", at="2026-11-30T10:00:00Z")
    assert (row["marketing_consent"], row["consent_source"], row["consent_at"]) == (
        1,
        "signed form at the 2026 fair",
        "2026-11-30T10:00:00Z",
    )
    record_consent(workspace, gone["id"], False, "unsubscribe link")
    assert workspace.store.get("contacts", gone["id"])["marketing_consent"] == 0
    with pytest.raises(ValidationError):  # after the action, ordinary writes are refused again
        workspace.store.update("contacts", gone["id"], {"marketing_consent": 1})


def test_crm_privacy_consent_regrants_from_the_command_line(tmp_path, workspace):
    from click.testing import CliRunner

    from crm_workspace.cli import cli

    gone = contact(workspace, "gone@example.com", 0)
    args = ["--db", str(workspace.path), "privacy", "consent", "gone@example.com"]
    refused = CliRunner().invoke(cli, [*args, "--grant"])
    assert refused.exit_code != 0 and "--source" in refused.output
    result = CliRunner().invoke(cli, [*args, "--grant", "--source", "phone call, 30 Nov"])
    assert result.exit_code == 0, result.output
    assert "consent given" in result.output
    row = workspace.store.get("contacts", gone["id"])
    assert (row["marketing_consent"], row["consent_source"]) == (1, "phone call, 30 Nov")
