"""How the crm command line scripts: --json/--csv on every list, tables with headers, dates as typed."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from crm_workspace.cli import cli
from crm_workspace.cli.dates import parse_when
from crm_workspace.errors import CrmError

LISTS = [
    ["plugins", "list"],
    ["users", "list"],
    ["audit", "--limit", "5"],
    ["imports", "list"],
    ["imports", "recipes"],
    ["contacts", "search", "ana"],
    ["contacts", "duplicates", "--limit", "5"],
    ["pipeline", "board"],
    ["pipeline", "forecast", "--by", "owner"],
    ["lifecycle", "show", "funnel"],
    ["lifecycle", "stages"],
]


def run(db, *args):
    return CliRunner().invoke(cli, ["--db", str(db), "--user", "ana", *args], catch_exceptions=False)


@pytest.mark.parametrize("args", LISTS, ids=lambda args: " ".join(args))
def test_every_list_prints_json_csv_and_a_table_with_headers(demo_db, args):
    as_json = run(demo_db, *args, "--json")
    assert as_json.exit_code == 0, as_json.output
    rows = json.loads(as_json.stdout)
    assert isinstance(rows, list) and all(isinstance(row, dict) for row in rows)
    as_csv = run(demo_db, *args, "--csv")
    assert as_csv.exit_code == 0, as_csv.output
    parsed = list(csv.reader(io.StringIO(as_csv.stdout)))
    assert len(parsed) == len(rows) + 1
    if rows:
        assert parsed[0] == list(rows[0])
        table = run(demo_db, *args).stdout.splitlines()
        assert set(table[1]) <= {"-", " "}, table[:2]  # a header line, then its rule
        assert len(table) == len(rows) + 2


def test_audit_json_nests_changes(demo_db):
    rows = json.loads(run(demo_db, "audit", "--limit", "3", "--json").stdout)
    assert rows and all(isinstance(row["changes"], dict | None) for row in rows)


NOW = datetime(2026, 11, 30, 10, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("today", "2026-11-30T00:00:00Z"),
        ("yesterday", "2026-11-29T00:00:00Z"),
        ("2026-11-01", "2026-11-01T00:00:00Z"),
        ("2026-11-01T12:00+02:00", "2026-11-01T10:00:00Z"),
        ("3d", "2026-11-27T10:30:00Z"),
        ("12h", "2026-11-29T22:30:00Z"),
        ("2 weeks ago", "2026-11-16T10:30:00Z"),
        ("a month ago", "2026-10-30T10:30:00Z"),
        ("Now", "2026-11-30T10:30:00Z"),
    ],
)
def test_dates_in_the_forms_people_type(text, expected):
    assert parse_when(text, NOW) == expected


@pytest.mark.parametrize("text", ["blah", "3x", "last tuesday", "2026-13-01", ""])
def test_an_unreadable_date_is_an_error_not_an_empty_result(text):
    with pytest.raises(CrmError, match="cannot read the date"):
        parse_when(text, NOW)


def test_audit_since_yesterday_finds_todays_changes_and_refuses_nonsense(demo_db):
    from crm_workspace import Workspace

    ws = Workspace.open(demo_db, user="ben", builtins_only=True)
    ws.store.update("contacts", 5, {"title": "Head of Dates"})
    ws.close()
    rows = json.loads(run(demo_db, "audit", "--since", "yesterday", "--json").stdout)
    assert any(r["user"] == "ben" and r["changes"]["after"].get("title") == "Head of Dates" for r in rows)
    assert json.loads(run(demo_db, "audit", "--since", "2 days ago", "--user", "ben", "--json").stdout)
    refused = run(demo_db, "audit", "--since", "someday")
    assert refused.exit_code == 1 and "cannot read the date 'someday'" in refused.output


def test_views_show_their_parameters_and_description(demo_db):
    from crm_workspace import Workspace

    ws = Workspace.open(demo_db, builtins_only=True)
    try:
        views = ws.views().set_index("name")
        assert list(views.columns) == ["plugin", "parameters", "description"]
        timeline = views.loc["contacts.timeline"]
        assert timeline["parameters"].startswith("id (required)") and timeline["description"]
        assert views.loc["contacts.duplicates", "parameters"] == "limit=200"
        with pytest.raises(CrmError, match=r"view 'contacts.timeline' takes id \(required\)"):
            ws.df("contacts.timeline")
        assert len(ws.df("contacts.timeline", id=1)) > 0
    finally:
        ws.close()


def test_emit_turns_frame_values_into_plain_json_and_cells(capsys):
    import numpy as np
    import pandas as pd

    from crm_workspace.cli.output import emit

    frame = pd.DataFrame(
        {
            "n": pd.array([1, None], dtype="Int64"),
            "at": [pd.Timestamp("2026-01-01"), pd.NaT],
            "amount": [np.float64(57500.0), np.nan],
            "tags": [["a", "b"], None],
        }
    )
    emit(frame, None, "json")
    assert json.loads(capsys.readouterr().out) == [
        {"n": 1, "at": "2026-01-01T00:00:00", "amount": 57500.0, "tags": ["a", "b"]},
        {"n": None, "at": None, "amount": None, "tags": None},
    ]
    emit(frame, None, "csv")
    assert capsys.readouterr().out.splitlines() == ["n,at,amount,tags", '1,2026-01-01T00:00:00,57500,"a, b"', ",,,"]
