"""Settings have owners and types: every write is checked against its plugin's declaration."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from crm_workspace import Setting, Workspace, hookimpl
from crm_workspace.cli import cli
from crm_workspace.errors import PermissionDenied, ValidationError


@pytest.fixture
def ws(demo_db: Path):
    workspace = Workspace.open(demo_db, user="ana", builtins_only=True)
    yield workspace
    workspace.close()


def run(db: Path, *args: str, user: str = "ana"):
    return CliRunner().invoke(cli, ["--db", str(db), "--user", user, *args])


def test_a_bad_lifecycle_stages_value_is_refused_in_one_line_and_nothing_breaks(ws, demo_db: Path):
    with pytest.raises(ValidationError) as refused:
        ws.set_setting("lifecycle_stages", 5)
    message = str(refused.value)
    assert "lifecycle_stages" in message and "non-empty list" in message and "\n" not in message
    for bad in ([], ["lead", "lead"], ["lead", " "], [3]):
        with pytest.raises(ValidationError):
            ws.set_setting("lifecycle_stages", bad)
    with pytest.raises(ValidationError):  # the Store's own path to the table is checked the same way
        ws.store.insert("settings", {"key": "lifecycle_stages", "value": "5"})

    assert ws.lifecycle_stages()[0] == "subscriber"
    contact = ws.store.get("contacts", 1)
    ws.store.update("contacts", 1, {"title": "Still works"}, version=contact["version"])
    deal = ws.store.query("SELECT id, pipeline FROM deals WHERE status = 'open' LIMIT 1")[0]
    stage = ws.store.query(
        "SELECT stage FROM pipeline_stages WHERE pipeline = ? AND status = 'open' ORDER BY position DESC LIMIT 1",
        [deal["pipeline"]],
    )[0]["stage"]
    result = run(demo_db, "pipeline", "move", str(deal["id"]), stage)
    assert result.exit_code == 0, result.output
    assert f"is now in {stage}" in result.output


def test_a_good_value_is_stored_cleaned_and_an_undeclared_key_is_refused(ws):
    ws.set_setting("lifecycle_stages", [" lead ", "customer"])
    assert ws.lifecycle_stages() == ["lead", "customer"]
    ws.set_setting("default_phone_region", "us")
    assert ws.setting("default_phone_region") == "US"
    with pytest.raises(ValidationError, match="region"):
        ws.set_setting("default_phone_region", "XX")
    with pytest.raises(ValidationError, match="no plugin declares it"):
        ws.set_setting("ben_ui_choice", "compact")
    with pytest.raises(ValidationError, match="currency code"):
        ws.set_setting("currency", "euros")
    with pytest.raises(ValidationError, match="unknown rules"):
        ws.set_setting("lifecycle_rules", {"nosuch": {}})
    assert {"lifecycle_stages", "default_phone_region", "members_edit_all", "currency", "lifecycle_rules"} <= set(
        ws.declared_settings()
    )


def test_a_member_is_refused_admin_only_settings(ws):
    ben = ws.as_user("ben")  # a member in the demo
    for key, value in (
        ("lifecycle_stages", ["lead", "customer"]),
        ("members_edit_all", False),
        ("lifecycle_rules", {}),
        ("default_phone_region", "US"),
    ):
        with pytest.raises(PermissionDenied, match=f"only an admin may change the setting '{key}'"):
            ben.set_setting(key, value)
    ben.set_setting("currency", "CHF")  # declared admin_only=False: display only
    assert ws.setting("currency") == "CHF"
    with pytest.raises(PermissionDenied):
        ws.as_user("eve").set_setting("currency", "USD")  # a viewer writes nothing


def test_a_plugins_declared_setting_is_validated(ws):
    def threshold(value):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 100:
            raise ValueError(f"must be a whole number from 0 to 100, not {value!r}")
        return value

    class Scoring:
        @hookimpl
        def crm_settings(self):
            return [Setting("scoring.threshold", threshold, 50, admin_only=False, doc="Hot-lead score.")]

    ws.register(Scoring(), name="scoring")
    assert ws.declared_settings()["scoring.threshold"].plugin == "scoring"
    ben = ws.as_user("ben")
    ben.set_setting("scoring.threshold", 70)
    assert ws.setting("scoring.threshold") == 70
    with pytest.raises(ValidationError, match="from 0 to 100"):
        ben.set_setting("scoring.threshold", 500)
    assert ws.setting("scoring.threshold") == 70


def test_setting_clean_turns_a_checkers_type_error_into_a_reason():
    setting = Setting("x", lambda value: value["missing"], admin_only=False)
    with pytest.raises(ValueError):
        setting.clean(SimpleNamespace())


def test_a_bad_value_already_in_the_file_reads_as_the_default(ws):
    with sqlite3.connect(ws.path) as raw:  # a file written before settings were checked
        raw.execute("INSERT OR REPLACE INTO settings (key, value) VALUES ('lifecycle_stages', '5')")
    raw.close()
    assert ws.lifecycle_stages()[0] == "subscriber"
    contact = ws.store.get("contacts", 1)
    ws.store.update("contacts", 1, {"lifecycle_stage": "lead"}, version=contact["version"])
    assert ws.store.get("contacts", 1)["lifecycle_stage"] == "lead"


def test_a_setting_read_for_every_row_is_decoded_once_and_handed_out_as_a_copy(ws):
    """Validation reads lifecycle_stages for each record: the decoded list is kept, never shared."""
    ws.set_setting("lifecycle_stages", ["lead", "customer"])
    with ws.store.snapshot():
        first = ws.setting("lifecycle_stages")
        first.append("mutated by a caller")
        assert ws.setting("lifecycle_stages") == ["lead", "customer"]
        assert ws.setting("lifecycle_stages") is not ws.setting("lifecycle_stages")
    ws.set_setting("lifecycle_stages", ["lead", "customer", "advocate"])  # a write is seen at once
    assert ws.lifecycle_stages() == ["lead", "customer", "advocate"]
