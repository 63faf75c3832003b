"""The shared field rules: one phone rule (with one configured region), email, dates, amounts."""

from __future__ import annotations

import phonenumbers
import pytest
from crm_workspace_excel.plan import plan_import
from crm_workspace_excel.prepare import prepare
from excel_workbooks import simple
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_workspace import ValidationError
from crm_workspace.data import fields


# ------------------------------------------------------------------- phone
@pytest.mark.parametrize(
    ("value", "region", "expected"),
    [
        ("0151 2345 6789", "DE", "+4915123456789"),
        ("+49 (0)30 1234567", "DE", "+49301234567"),  # the "(0)" written by habit is not part of the number
        ("0049 30 1234567", "US", "+49301234567"),
        ("+1 (415) 555-0100", "DE", "+14155550100"),
        ("415 555 0199", "US", "+14155550199"),
        (4930123456.0, "DE", "+4930123456"),  # a spreadsheet number that lost its "+"
        (493012345678.0, "DE", "+493012345678"),
        ("+44 20 7946 0958", "US", "+442079460958"),
        ("call reception", "DE", "call reception"),  # a note without a digit is kept, never lost
        ("  ", "DE", None),
    ],
)
def test_phone_rule(value, region, expected):
    assert fields.normalize_phone(value, region) == expected


@pytest.mark.parametrize("value", ["12ab", "+999 1234567", "+1 23", "1234567890123456789", "#5"])
def test_text_with_digits_that_is_no_phone_number_is_refused(value):
    with pytest.raises(fields.BadValue, match=r"not a phone number: .* \(.+\)"):
        fields.normalize_phone(value, "DE")


def test_contact_with_a_broken_phone_is_refused_with_a_clear_message(workspace):
    with pytest.raises(ValidationError) as info:
        workspace.store.insert("contacts", {"first_name": "Ana", "phone": "12ab"})
    assert info.value.errors["phone"] == "not a phone number: '12ab' (letters among the digits)"
    assert workspace.store.scalar("SELECT count(*) FROM contacts") == 0
    kept = workspace.store.insert("contacts", {"first_name": "Bo", "phone": "ask reception"})
    assert kept["phone"] == "ask reception"


def test_import_rejects_a_broken_phone_row(tmp_path, workspace):
    path = simple(tmp_path / "p.xlsx", ["First Name", "Phone"], [["Ana", "12ab"], ["Bo", "030 1234567"]])
    prepared = prepare(workspace, path, entity="contacts")
    plan = plan_import(workspace, prepared.table, "contacts", prepared.mapping)
    assert [(plan.row_number(i), reason) for i, reason in plan.rejects] == [
        (2, "Phone: not a phone number: '12ab' (letters among the digits)")
    ]
    assert [row.record["phone"] for row in plan.creates] == ["+49301234567"]


def test_one_region_setting_for_validation_and_import(tmp_path, workspace):
    assert fields.phone_region(workspace) == fields.DEFAULT_PHONE_REGION
    workspace.set_setting(fields.PHONE_REGION_SETTING, "us")
    assert fields.phone_region(workspace) == "US"
    typed = workspace.store.insert("contacts", {"first_name": "Ana", "phone": "415 555 0199"})
    path = simple(tmp_path / "r.xlsx", ["First Name", "Phone"], [["Bo", "415 555 0198"]])
    prepared = prepare(workspace, path, entity="contacts")
    plan = plan_import(workspace, prepared.table, "contacts", prepared.mapping)
    assert (typed["phone"], plan.creates[0].record["phone"]) == ("+14155550199", "+14155550198")


def test_an_import_parses_each_phone_once(tmp_path, workspace, monkeypatch):
    """Validation recognises what the import normalized: phonenumbers sees each national number once."""
    parsed = []
    real = phonenumbers.parse
    monkeypatch.setattr(phonenumbers, "parse", lambda *a, **k: parsed.append(a[0]) or real(*a, **k))
    fields._phone_slow.cache_clear()
    phones = [f"(212) 555-{n:04d}" for n in range(30)] + [f"+44 20 7946 {n:04d}" for n in range(30)]
    rows = [[f"P{n}", f"p{n}@example.com", phone] for n, phone in enumerate(phones)]
    path = simple(tmp_path / "once.xlsx", ["First Name", "Email", "Phone"], rows)
    prepared = prepare(workspace, path, entity="contacts")
    plan = plan_import(workspace, prepared.table, "contacts", prepared.mapping)
    assert len(plan.creates) == 60 and not plan.rejects
    assert sorted(parsed) == sorted(phones[:30])  # the national ones, once each; E.164 ones never


_codes = st.sampled_from(sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE))


@settings(max_examples=600, deadline=None)
@given(code=_codes, national=st.from_regex(r"[0-9]{2,14}", fullmatch=True))
def test_is_e164_only_takes_what_phonenumbers_keeps_unchanged(code, national):
    text = f"+{code}{national}"
    if fields.is_e164(text):
        number = phonenumbers.parse(text, None)
        assert phonenumbers.is_possible_number(number)
        assert phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) == text


_phoneish = st.one_of(
    st.from_regex(r"\+?[0-9 ()./-]{4,20}", fullmatch=True),
    st.builds(lambda c, n: f"+{c} {n}", _codes, st.from_regex(r"[0-9]{4,12}", fullmatch=True)),
    st.floats(min_value=1e6, max_value=1e15),
    st.text(max_size=20),
)


@settings(max_examples=400, deadline=None)
@given(value=_phoneish, region=st.sampled_from(["DE", "US", "GB", "FR", "IT", "AR"]))
def test_phone_rule_is_idempotent(value, region):
    """What the import stores, validation accepts unchanged (in any region)."""
    try:
        once = fields.normalize_phone(value, region)
    except fields.BadValue as error:
        assert "not a phone number" in str(error)
        return
    if once is not None:
        assert fields.normalize_phone(once, "US") == once
        assert fields.normalize_phone(once, region) == once


# ------------------------------------------------------------------- email
def test_email_rule():
    assert fields.normalize_email("  Ana@Example.COM ") == "ana@example.com"
    assert fields.find_email("Ana <ana@example.com>") == "ana@example.com"
    assert fields.find_email("mailto:Bo@Example.com") == "bo@example.com"
    with pytest.raises(fields.BadValue) as info:
        fields.normalize_email("ana@example")
    assert str(info.value) == "not an email address: 'ana@example'" and info.value.reason


def test_contact_email_message_keeps_the_reason(workspace):
    with pytest.raises(ValidationError) as info:
        workspace.store.insert("contacts", {"first_name": "Ana", "email": "ana@example"})
    assert info.value.errors["email"].startswith("not a valid email address: ")


# ------------------------------------------------------- dates and amounts
def test_dates_and_amounts():
    assert fields.normalize_date("25/03/2024") == "2024-03-25"
    assert fields.normalize_date("03/04/2024", day_first=True) == "2024-04-03"
    assert fields.is_day_first("25/03/2024") and not fields.is_day_first("03/25/2024")
    assert fields.parse_amount("1.234,50 €") == (1234.5, "EUR")
    assert fields.parse_percent("12.5%") == 12.5 and fields.parse_percent(0.125) == 12.5
    assert fields.parse_currency("€") == "EUR" and fields.parse_currency("usd") == "USD"
    for bad in (lambda: fields.normalize_date("31/02/2024"), lambda: fields.parse_amount("abc")):
        with pytest.raises(fields.BadValue):
            bad()


@pytest.mark.parametrize("value", ["000000", "0000000", "000000000"])
def test_a_possible_number_phonenumbers_reads_differently_the_second_time_is_stored_as_read_back(value):
    once = fields.normalize_phone(value, "DE")
    assert fields.normalize_phone(once, "DE") == once == fields.normalize_phone(once, "US")
