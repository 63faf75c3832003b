"""A big import's phones and emails, converted in part by a helper process: the same plan as without it."""

from __future__ import annotations

import datetime as dt

import pytest
from crm_workspace_excel import helper
from crm_workspace_excel.plan import plan_import
from crm_workspace_excel.reader import Table


def _table() -> Table:
    headers = ["First Name", "Last Name", "Email", "Phone", "Company"]
    phones = ["(212) 555-0100", "030 1234567", 4930123456.0, "+44 20 7946 0000", "ask reception", "12ab", "", None]
    phones += [True, 1, 1.0, 4930123456, dt.date(2024, 1, 2)]  # True == 1 == 1.0: told apart
    emails = ["Ana@Example.COM", "bo@x", "Cy <cy@example.org>", "mailto:dee@example.net", "", None, "n/a"]
    rows = []
    for i in range(400):
        rows.append(
            [
                f"Ana{i % 7}",
                f"Silva{i % 5}",
                emails[i % len(emails)] if i % 3 else f"person{i}@example.com",
                phones[i % len(phones)] if i % 4 else f"0171 {2000000 + i}",
                f"Company {i % 9}",
            ]
        )
    return Table("Contacts", 0, headers, rows, list(range(2, 402)))


def _plan(workspace):
    table = _table()
    mapping = dict(zip(table.headers, ["first_name", "last_name", "email", "phone", "organization"], strict=True))
    return plan_import(workspace, table, "contacts", mapping, "update")


def _summary(plan):
    return (
        [(row.index, list(row.record.items()), row.org_name) for row in plan.creates],
        plan.rejects,
        list(plan.problems.items()),
        plan.skipped,
        plan.new_orgs,
    )


@pytest.fixture
def small_threshold(monkeypatch):
    monkeypatch.setattr(helper, "MIN_VALUES", 50)
    monkeypatch.setattr(helper, "cores", lambda: 2)


def test_the_helper_plans_exactly_what_this_process_plans(workspace, small_threshold, monkeypatch):
    started = []
    real = helper.Helper

    class Counted(real):
        def __init__(self, region, tasks):
            started.append([kind for kind, _values in tasks])
            super().__init__(region, tasks)

    monkeypatch.setattr(helper, "Helper", Counted)
    shared = _summary(_plan(workspace))
    assert started == [["email", "phone"]]
    monkeypatch.setattr(helper, "MIN_VALUES", 10**9)
    assert _summary(_plan(workspace)) == shared
    assert any("not a phone number: '12ab'" in reason for _i, reason in shared[1])
    assert any("not an email address: 'bo@x'" in reason for _i, reason in shared[1])


def test_a_helper_that_dies_leaves_the_work_to_this_process(workspace, small_threshold, monkeypatch):
    monkeypatch.setattr(helper, "MIN_VALUES", 10**9)
    alone = _summary(_plan(workspace))
    monkeypatch.setattr(helper, "MIN_VALUES", 50)
    monkeypatch.setattr(helper, "_BOOTSTRAP", "import sys; sys.exit(3)")
    assert _summary(_plan(workspace)) == alone


def test_small_sheets_start_no_helper(workspace, monkeypatch):
    monkeypatch.setattr(helper, "Helper", lambda *a: pytest.fail("a helper for 400 rows"))
    assert _plan(workspace).creates


def test_a_failure_here_stops_the_helper(workspace, small_threshold, monkeypatch):
    from crm_workspace_excel import records

    started = []
    real = helper.Helper

    class Kept(real):
        def __init__(self, region, tasks):
            super().__init__(region, tasks)
            started.append(self)

    def broken(*_args):
        raise RuntimeError("a bug while converting")

    monkeypatch.setattr(helper, "Helper", Kept)
    monkeypatch.setattr(records, "_convert_column", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        _plan(workspace)
    assert len(started) == 1 and started[0].process.poll() is not None
