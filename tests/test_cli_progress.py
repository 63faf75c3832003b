"""Long CLI steps show progress on a terminal and nothing otherwise; files are not overwritten
without --force; an interrupt after an import's commit still reports the import."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from excel_workbooks import messy_contacts, simple

from crm_workspace.cli import cli
from crm_workspace.cli.progress import Progress

CRM = str(Path(sys.executable).with_name("crm"))


@pytest.fixture
def crm(tmp_path):
    db = tmp_path / "crm.db"

    def invoke(*args):
        return CliRunner().invoke(cli, ["--db", str(db), "--user", "ana", *map(str, args)], catch_exceptions=False)

    assert invoke("init").exit_code == 0
    return invoke


def test_the_progress_line_has_count_rate_and_eta():
    bar = Progress("writing", 1_000, enabled=False)
    started = bar._started
    assert bar.line(started + 1) == "writing ⠋ 1.0 s"  # nothing counted yet: its name and the time so far
    bar.update(250)
    line = bar.line(started + 5)
    assert "250/1,000 rows" in line and "25%" in line and "50 rows/s" in line and "ETA 0:15" in line


def test_the_progress_line_is_drawn_on_a_terminal_only():
    stream = io.StringIO()
    with Progress("reading", enabled=True, stream=stream) as bar:
        bar.update(10, 10)
    assert "reading" in stream.getvalue() and stream.getvalue().endswith("\n")
    quiet = io.StringIO()
    with Progress("reading", stream=quiet) as bar:  # StringIO is not a terminal
        bar.update(10, 10)
    assert quiet.getvalue() == ""


def run_on_a_terminal(*args: str, cwd: Path) -> tuple[int, str, str]:
    """Run crm with stderr on a pseudo-terminal (stdout piped): what a person at a terminal sees."""
    master, slave = pty.openpty()
    process = subprocess.Popen([CRM, *args], cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    return process.wait(timeout=120), process.stdout.read().decode(), seen.decode(errors="replace")


def test_an_import_shows_each_step_from_the_first_moment_on_a_terminal(tmp_path):
    rows = [[f"Ann{i} Lee", f"ann{i}@example.com"] for i in range(300)]
    path = simple(tmp_path / "people.xlsx", ["Name", "Email"], rows)
    assert subprocess.run([CRM, "--db", "crm.db", "init"], cwd=tmp_path, capture_output=True).returncode == 0
    code, out, err = run_on_a_terminal("import", str(path), "--db", "crm.db", cwd=tmp_path)
    assert code == 0, err
    assert "reading people.xlsx" in err and "checking 300 rows" in err
    assert "writing  300/300 rows 100%" in err and "rows/s" in err
    assert "\r" not in out and "imported: 300 created" in out
    piped = subprocess.run([CRM, "--db", "crm.db", "imports", "list"], cwd=tmp_path, capture_output=True, text=True)
    assert "\r" not in piped.stderr + piped.stdout


def test_piped_output_has_no_progress(crm, tmp_path):
    result = crm("import", messy_contacts(tmp_path / "messy.xlsx"))
    assert result.exit_code == 0
    assert "\r" not in result.output and "rows/s" not in result.output


def test_backup_and_export_refuse_to_overwrite_without_force(crm, tmp_path):
    target = tmp_path / "backup.db"
    target.write_text("precious")
    refused = crm("backup", target)
    assert refused.exit_code == 1 and f"{target} already exists; use --force to overwrite it" in refused.output
    assert target.read_text() == "precious"
    assert crm("backup", target, "--force").exit_code == 0 and target.stat().st_size > 1000
    out = tmp_path / "contacts.xlsx"
    assert crm("export", "contacts", out).exit_code == 0
    again = crm("export", "contacts", out)
    assert again.exit_code == 1 and "already exists; use --force" in again.output
    assert crm("export", "contacts", out, "--force").exit_code == 0


def test_an_import_refuses_an_existing_rejects_file_before_writing(crm, tmp_path):
    rejects = tmp_path / "rejects.xlsx"
    rejects.write_text("keep me")
    source = messy_contacts(tmp_path / "messy.xlsx")
    refused = crm("import", source, "--rejects", rejects)
    assert refused.exit_code == 1 and "already exists; use --force" in refused.output
    assert "no imports yet" in crm("imports", "list").output and rejects.read_text() == "keep me"
    assert crm("import", source, "--rejects", rejects, "--force").exit_code == 0


def test_an_interrupt_after_the_commit_still_reports_the_import(crm, tmp_path, monkeypatch):
    from crm_workspace_excel import execute as module

    real = module.execute

    def commit_then_interrupt(*args, **kwargs):
        real(*args, **kwargs)
        raise KeyboardInterrupt  # Ctrl-C landing while SQLite commits, or just after

    monkeypatch.setattr(module, "execute", commit_then_interrupt)
    result = crm("import", messy_contacts(tmp_path / "messy.xlsx"))
    assert result.exit_code == 0, result.output
    assert "Aborted!" not in result.output
    assert "imported: 6 created" in result.output and "batch: " in result.output


def test_an_interrupt_before_the_commit_says_nothing_was_imported(crm, tmp_path, monkeypatch):
    from crm_workspace_excel import execute as module

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(module, "execute", interrupted)
    result = crm("import", messy_contacts(tmp_path / "messy.xlsx"))
    assert result.exit_code == 1 and "interrupted: nothing was imported" in result.output
