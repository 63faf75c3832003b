"""The crm command line: the happy paths and every error a user can cause."""

from __future__ import annotations

import json
import os
import shlex
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

CRM = str(Path(sys.executable).with_name("crm"))


def crm(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CRM, *args], capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )


def assert_clean_error(result: subprocess.CompletedProcess, *phrases: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line and not line.startswith("warning:")]
    assert len(lines) == 1, result.stderr
    for phrase in phrases:
        assert phrase in lines[0], lines[0]


def test_init_demo_then_plugins_list(tmp_path):
    db = str(tmp_path / "crm.db")
    result = crm("--db", db, "init", "--demo", "--seed", "1")
    assert result.returncode == 0, result.stderr
    assert "300 contacts" in result.stdout
    listing = crm("--db", db, "plugins", "list")
    assert listing.returncode == 0
    lines = {line.split()[0]: line for line in listing.stdout.splitlines()}
    for name in ("contacts", "pipeline", "relationships", "lifecycle", "excel"):
        assert "enabled" in lines[name] and "built-in" in lines[name] and "dashboards" in lines[name]


def test_init_demo_refuses_to_overwrite_without_force(tmp_path):
    db = str(tmp_path / "crm.db")
    assert crm("--db", db, "init").returncode == 0
    assert_clean_error(crm("--db", db, "init", "--demo"), "already exists", "--force")
    assert crm("--db", db, "init", "--demo", "--force", "--contacts", "50").returncode == 0


def test_demo_is_deterministic(tmp_path):
    rows = []
    for name in ("a.db", "b.db"):
        db = str(tmp_path / name)
        assert crm("--db", db, "init", "--demo", "--seed", "5", "--contacts", "60").returncode == 0
        with sqlite3.connect(db) as conn:
            rows.append(conn.execute("SELECT first_name, last_name, email, lifecycle_stage FROM contacts").fetchall())
    assert rows[0] == rows[1] and len(rows[0]) >= 60  # plugins add their own demo contacts


def test_plugins_disable_enable_persist(tmp_path):
    db = str(tmp_path / "crm.db")
    crm("--db", db, "init")
    assert crm("--db", db, "plugins", "disable", "pipeline").stdout.strip() == "disabled pipeline"
    assert "disabled" in next(
        line for line in crm("--db", db, "plugins", "list").stdout.splitlines() if "pipeline" in line
    )
    assert crm("--db", db, "plugins", "enable", "pipeline").returncode == 0
    assert "enabled" in next(
        line for line in crm("--db", db, "plugins", "list").stdout.splitlines() if "pipeline" in line
    )


def test_an_unknown_allow_listed_plugin_is_one_clear_line(tmp_path):
    db = str(tmp_path / "crm.db")
    crm("--db", db, "init")
    result = crm("--db", db, "plugins", "list", env={"CRM_PLUGINS": "pipeline,nosuch"})
    assert result.returncode == 0 and "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert "'nosuch'" in line and "not installed" in line
    listed = crm("--db", db, "plugins", "list", "--json", env={"CRM_PLUGINS": "pipeline,nosuch"})
    assert [p["name"] for p in json.loads(listed.stdout)] == ["pipeline"]


def test_missing_database_is_one_clear_line(tmp_path):
    missing = tmp_path / "nope.db"
    assert_clean_error(crm("--db", str(missing), "plugins", "list"), "no workspace at", "crm init")
    assert not missing.exists()


def test_unreadable_database_is_one_clear_line(tmp_path):
    bogus = tmp_path / "notes.db"
    bogus.write_text("these are my notes, not a database\n")
    assert_clean_error(crm("--db", str(bogus), "plugins", "list"), "not a crm-workspace database")
    assert bogus.read_text() == "these are my notes, not a database\n"


def test_unknown_plugin_is_one_clear_line(tmp_path):
    db = str(tmp_path / "crm.db")
    crm("--db", db, "init")
    assert_clean_error(crm("--db", db, "plugins", "disable", "nope"), "no plugin named 'nope'", "installed:")


def test_locked_database_past_the_busy_timeout_is_one_clear_line(tmp_path):
    db = str(tmp_path / "crm.db")
    crm("--db", db, "init")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import sqlite3,time;c=sqlite3.connect({db!r},isolation_level=None);"
            "c.execute('BEGIN IMMEDIATE');print('locked',flush=True);time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        result = crm("--db", db, "plugins", "disable", "pipeline", env={"CRM_BUSY_TIMEOUT": "0.5"})
        assert_clean_error(result, "busy")
        assert time.monotonic() - started < 20
    finally:
        holder.kill()
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM plugin_state").fetchone()[0] == 0


def test_python_dash_m_works():
    result = subprocess.run([sys.executable, "-m", "crm_workspace", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "plugins" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["plugins", "list"],
        ["init"],
        ["pipeline", "board"],
        ["pipeline", "board", "--json"],
        ["imports", "list"],
        ["users", "list", "--csv"],
        ["contacts", "duplicates"],
        ["lifecycle", "stages"],
    ],
)
def test_commands_that_serve_nothing_import_no_ui_pandas_or_networkx(tmp_path, args):
    """pipeline board took 3.4 s: it loaded every plugin's views, networkx and pandas among them."""
    code = (
        "import sys\nfrom crm_workspace.cli import cli\n"
        "try:\n    cli(sys.argv[1:], prog_name='crm')\nexcept SystemExit:\n    pass\n"
        "except Exception as error:\n    print('FAILED', repr(error))\n"  # the import check holds either way
        "heavy = [m for m in ('panel', 'bokeh', 'pandas', 'networkx') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    db = str(tmp_path / "crm.db")
    if args != ["init"]:
        crm("--db", db, "init")
    result = subprocess.run([sys.executable, "-c", code, "--db", db, *args], capture_output=True, text=True)
    assert "HEAVY []" in result.stdout, result.stdout + result.stderr


def test_db_and_user_are_accepted_after_the_subcommand_at_any_depth(tmp_path):
    db = str(tmp_path / "after.db")
    assert crm("init", "--db", db, "--user", "ana").returncode == 0  # ana: the first admin
    assert crm("plugins", "disable", "pipeline", "--db", db, "--user", "ana").returncode == 0
    listing = crm("plugins", "list", "--json", "--db", db, "--user", "ana")
    assert listing.returncode == 0, listing.stderr
    assert "pipeline" not in {p["name"] for p in json.loads(listing.stdout) if p["enabled"]}
    assert crm("plugins", "enable", "pipeline", f"--db={db}", "--user=ana").returncode == 0
    assert crm("imports", "list", "--db", db, "--user", "ana").returncode == 0  # a plugin's group, found in that file
    with sqlite3.connect(db) as conn:
        users = {row[0] for row in conn.execute("SELECT user FROM audit_log WHERE table_name = 'plugin_state'")}
    assert users <= {"ana"}


def test_the_no_workspace_message_suggests_commands_that_work(tmp_path):
    missing = tmp_path / "my crm.db"
    result = crm("imports", "list", "--db", str(missing))
    assert_clean_error(result, "no workspace at", "crm init --db")
    assert not missing.exists()
    suggested = shlex.split(result.stderr.split("`")[1])
    assert crm(*suggested[1:]).returncode == 0 and missing.exists()
    other = tmp_path / "other.db"
    assert crm("--db", str(other), "init").returncode == 0 and other.exists()


@pytest.mark.parametrize(
    "args",
    [["imports", "list"], ["imports", "recipes"], ["import", "{file}"], ["export", "contacts", "{tmp}/out.xlsx"]],
)
def test_a_mistyped_db_never_creates_a_workspace(tmp_path, args):
    (tmp_path / "people.csv").write_text("name,email\nAna Lopez,ana@example.com\n")
    typo = tmp_path / "crm.bd"
    argv = [a.format(file=tmp_path / "people.csv", tmp=tmp_path) for a in args]
    assert_clean_error(crm("--db", str(typo), *argv), f"no workspace at {typo}")
    assert not typo.exists()


def test_a_foreign_sqlite_file_is_refused_untouched(tmp_path):
    foreign = tmp_path / "app.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, total REAL)")
        conn.execute("INSERT INTO orders VALUES (1, 9.5)")
    conn.close()
    before = foreign.read_bytes()
    for args in (["plugins", "list"], ["imports", "list"], ["init"], ["users", "list"]):
        assert_clean_error(crm("--db", str(foreign), *args), "not a crm-workspace", "orders")
    assert foreign.read_bytes() == before  # still in rollback-journal mode, no table added
    assert not Path(f"{foreign}-wal").exists()


def test_a_workspace_from_a_newer_crm_workspace_is_refused(tmp_path):
    db = tmp_path / "crm.db"
    assert crm("--db", str(db), "init").returncode == 0
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at)"
            " VALUES ('crm_workspace.core', 'm099_from_the_future', '2030-01-01')"
        )
    conn.close()
    assert_clean_error(crm("--db", str(db), "plugins", "list"), "made by a newer crm-workspace", "m099_from_the_future")


def test_an_empty_file_is_a_workspace_only_after_init(tmp_path):
    empty = tmp_path / "empty.db"
    empty.touch()
    assert_clean_error(crm("--db", str(empty), "imports", "list"), "no workspace at")
    assert empty.stat().st_size == 0
    assert crm("--db", str(empty), "init").returncode == 0
    assert crm("--db", str(empty), "imports", "list").returncode == 0
