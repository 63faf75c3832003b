"""The import/export command line: crm import, crm imports list|undo|recipes, crm export."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from excel_workbooks import messy_contacts, simple
from openpyxl import load_workbook

from crm_workspace.cli import cli


@pytest.fixture
def crm(tmp_path):
    db = tmp_path / "crm.db"
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(cli, ["--db", str(db), "--user", "ana", *map(str, args)], catch_exceptions=False)

    assert invoke("init").exit_code == 0
    return invoke


def test_import_list_undo(crm, tmp_path):
    path = messy_contacts(tmp_path / "messy.xlsx")
    dry = crm("import", path, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "dry run — would import: 6 created, 0 updated, 0 unchanged, 1 skipped, 2 rejected" in dry.output
    assert "row 5: rejected — Email Address: not an email address: 'bob@example'" in dry.output
    assert "nothing was written" in dry.output
    assert "no imports yet" in crm("imports", "list").output

    result = crm("import", path)
    assert result.exit_code == 0, result.output
    assert "imported: 6 created, 0 updated, 0 unchanged, 1 skipped, 2 rejected (+3 new organizations)" in result.output
    batch = re.search(r"batch: (\S+)", result.output).group(1)
    rejects = re.search(r"rejects: (\S+)", result.output).group(1)
    rows = list(load_workbook(rejects).active.iter_rows(values_only=True))
    assert len(rows) == 3 and rows[0][-1] == "Reason"

    listing = crm("imports", "list").output
    assert batch in listing and "done" in listing and "messy.xlsx" in listing

    undo = crm("imports", "undo", batch)
    assert undo.exit_code == 0 and "9 records deleted, 0 restored" in undo.output
    again = crm("imports", "undo", batch)
    assert again.exit_code == 1 and "already undone" in again.output


def test_on_duplicate_and_map(crm, tmp_path):
    first = simple(tmp_path / "a.xlsx", ["Who", "Mail"], [["Ana Lopez", "ana@example.com"]])
    assert crm("import", first, "--entity", "contacts", "--map", "Who=full_name").exit_code == 0
    second = simple(tmp_path / "b.xlsx", ["Who", "Mail"], [["Ana López", "ANA@example.com"]])
    skipped = crm(
        "import", second, "--entity", "contacts", "--map", "Who=full_name", "--on-duplicate", "skip", "--dry-run"
    )
    assert "0 created, 0 updated, 0 unchanged, 1 skipped" in skipped.output
    updated = crm("import", second, "--entity", "contacts", "--map", "Who=full_name", "--dry-run")
    assert "last_name: 'Lopez' → 'López'" in updated.output


def test_recipe_saved_and_reused(crm, tmp_path):
    path = simple(tmp_path / "a.xlsx", ["Who", "Mail"], [["Ana Lopez", "ana@example.com"]])
    saved = crm(
        "import", path, "--entity", "contacts", "--map", "Who=full_name", "--save-recipe", "monthly", "--dry-run"
    )
    assert "saved mapping recipe 'monthly'" in saved.output
    assert "monthly  contacts" in crm("imports", "recipes").output
    reused = crm("import", path, "--recipe", "monthly", "--dry-run")
    assert "Who → full_name" in reused.output and "1 created" in reused.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("import", "{tmp}/missing.xlsx"), "no such file"),
        (("import", "{tmp}/empty.xlsx"), "is empty (0 bytes)"),
        (("import", "{tmp}/ok.xlsx", "--map", "Nope=email"), "no column named 'Nope'"),
        (("import", "{tmp}/ok.xlsx", "--map", "Who"), "expects HEADER=field"),
        (("import", "{tmp}/ok.xlsx", "--sheet", "Nope"), "no sheet named 'Nope'"),
        (("import", "{tmp}/ok.xlsx", "--recipe", "nope"), "no mapping recipe named 'nope'"),
        (("imports", "undo", "nope"), "no import batch 'nope'"),
        (("export", "contacts", "{tmp}/out.csv"), "export writes .xlsx files"),
        (("export", "nope", "{tmp}/out.xlsx"), "no table named 'nope'"),
    ],
)
def test_user_errors_are_one_clean_line(crm, tmp_path, args, message):
    (tmp_path / "empty.xlsx").write_bytes(b"")
    simple(tmp_path / "ok.xlsx", ["Who", "Mail"], [["Ana Lopez", "ana@example.com"]])
    result = crm(*[a.format(tmp=tmp_path) for a in args])
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_export_command(crm, tmp_path):
    crm("import", messy_contacts(tmp_path / "messy.xlsx"))
    out = tmp_path / "contacts.xlsx"
    result = crm("export", "contacts", out)
    assert result.exit_code == 0 and "exported 6 contacts" in result.output
    sheet = load_workbook(out)["contacts"]
    assert [c.value for c in sheet[1]][:4] == ["id", "first_name", "last_name", "email"]
    assert sheet.max_row == 7
