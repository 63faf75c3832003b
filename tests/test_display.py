"""The core display helpers every screen uses: humanised times, dates, money, labels, escaped tables."""

from __future__ import annotations

from datetime import UTC, date, datetime

from crm_workspace.web.display import (
    ago,
    cell_html,
    day,
    exact,
    html_table,
    label,
    money,
    number,
    times_html,
    when_html,
)

NOW = datetime(2030, 1, 10, 12, tzinfo=UTC)


def test_ago_says_past_and_future_times_as_people_do():
    assert ago("2030-01-07T12:00:00Z", NOW) == "3 days ago"
    assert ago("2030-01-10T11:59:30Z", NOW) == "just now"
    assert ago("2030-01-10T11:55:00Z", NOW) == "5 minutes ago"
    assert ago("2030-01-10T11:00:00+00:00", NOW) == "1 hour ago"
    assert ago("2030-01-12T12:00:00Z", NOW) == "in 2 days"
    assert ago("2030-01-10T13:00:00", NOW) == "in 1 hour"  # no zone: UTC
    assert ago("2029-06-01T00:00:00Z", NOW) == "1 Jun 2029"  # a month or more: the date
    assert ago("2030-01-07", NOW) == "7 Jan 2030"  # a date alone stays a date


def test_ago_with_a_naive_now_takes_it_as_utc():
    naive = datetime(2030, 1, 10, 12)
    assert ago("2030-01-07T12:00:00Z", naive) == "3 days ago" and ago("2030-01-10T13:00:00+01:00", naive) == "just now"
    assert ">3 days ago<" in when_html("2030-01-07T12:00:00Z", naive)


def test_a_frames_missing_values_show_empty_and_never_raise():
    """NaT and NaN, as pandas gives a missing time or number, read like None (NaT used to raise ValueError)."""
    import pandas as pd

    for missing in (pd.NaT, float("nan")):
        assert when_html(missing) == ago(missing) == exact(missing) == day(missing) == ""
        assert cell_html(missing) == money(missing) == number(missing) == ""
    assert "<td" in html_table([{"at": pd.NaT, "n": float("nan")}], ["at", "n"])


def test_ago_of_nothing_or_not_a_time():
    assert ago(None) == "" and ago("") == ""
    assert ago("soon", NOW) == "soon" and ago("2030-13-45T00:00Z", NOW) == "2030-13-45T00:00Z"


def test_when_html_shows_the_humanised_time_with_the_exact_one_on_hover():
    out = when_html("2030-01-07T12:00:00Z", NOW)
    assert out.startswith("<time") and ">3 days ago</time>" in out
    assert "title='7 Jan 2030 12:00 UTC'" in out and "datetime='2030-01-07T12:00:00Z'" in out
    assert "T12" not in out.split(">", 1)[1]  # the visible text is no ISO timestamp
    assert when_html(None) == "" and when_html("") == ""
    assert "title='Mon 7 Jan 2030'" in when_html("2030-01-07") and ">7 Jan 2030<" in when_html("2030-01-07")


def test_when_html_escapes_what_is_not_a_time():
    assert when_html("<script>x</script>") == "&lt;script&gt;x&lt;/script&gt;"


def test_times_html_humanises_times_inside_text_and_escapes_the_rest():
    out = times_html("due_at: 2030-01-07T12:00:00Z → <b>2030-01-12T12:00:00Z</b>", NOW)
    assert "3 days ago" in out and "in 2 days" in out and "&lt;b&gt;" in out and "<b>" not in out
    assert times_html(None) == ""


def test_exact_and_day():
    assert exact("2030-01-07T09:05:00Z") == "7 Jan 2030 09:05 UTC"
    assert exact("2030-01-07T09:05:00+02:00") == "7 Jan 2030 09:05 +0200"
    assert exact(None) == "" and exact("later") == "later"
    assert day("2026-11-30") == "30 Nov 2026" and day("2026-11-30T07:12:03Z") == "30 Nov 2026"
    assert day(date(2026, 11, 30)) == "30 Nov 2026" and day(None) == "" and day("tbd") == "tbd"


def test_money_labels_and_numbers():
    assert money(57500.0, "EUR") == "€57,500" and money(57500, "chf") == "57,500 CHF"
    assert money(-1200.4, "USD") == "-$1,200" and money(None, "EUR") == "" and money(10) == "€10"
    assert label("first_name") == "First name" and label("marketing_qualified") == "Marketing qualified"
    assert label(None) == "" and label(float("nan")) == ""  # an empty stage in a DataFrame, never "Nan"
    assert label("nps_score") == "NPS score" and label("contact_id") == "Contact ID" and label("ip") == "IP"
    assert label("identity") == "Identity" and label("sla_due_at") == "SLA due at"  # whole words only
    assert number(57500.0) == "57,500" and number(0.08107) == "0.08" and number(12) == "12" and number(None) == ""


def test_cell_html_formats_times_dates_and_floats():
    assert cell_html(None) == "" and cell_html(0) == "0" and cell_html(57500.0) == "57,500"
    assert "crm-when" in cell_html("2030-01-07T12:00:00Z") and ">7 Jan 2030<" in cell_html("2030-01-07")
    assert cell_html("a & b") == "a &amp; b"


def test_html_table_escapes_every_header_and_cell():
    rows = [{"name": "<img src=x onerror=alert(1)>", "at": "2030-01-07T12:00:00Z", "n": None}]
    out = html_table(rows, {"name": "Name <i>", "at": "When", "n": "Count"}, css="deal-people")
    assert "<img" not in out and "&lt;img" in out and "Name &lt;i&gt;" in out
    assert "class='crm-table deal-people'" in out and "<time" in out and ">at<" not in out
    assert out.count("<td") == 3
    assert ">First name</th>" in html_table([{"first_name": "A"}], ["first_name"])
    assert ">Who</th>" in html_table([{"w": "A"}], [("w", "Who")])


def test_html_table_without_rows_says_so():
    assert "None yet." in html_table([], ["a"])
    assert "No meetings &amp; calls" in html_table([], ["a"], empty="No meetings & calls")


def test_times_inside_text_and_cell_classes():
    from crm_workspace.web.display import times_text

    assert (
        times_text("disabled at 2030-01-08T12:00:00Z after 10 failures", NOW)
        == "disabled at 2 days ago after 10 failures"
    )
    assert times_text(None) == ""
    assert "crm-when" in cell_html("disabled at 2030-01-08T12:00:00Z")
    out = html_table([{"name": "x"}], {"name": "Rule"}, cell_class="auto-")
    assert "<td class='auto-name'" in out and "<td class" not in html_table([{"name": "x"}], ["name"])


def test_bars_html_draws_counts_in_proportion_escaped():
    from crm_workspace.web.display import bars_html

    markup = bars_html(
        [("<b>", 5, "#ff0000"), ("b", 20, "red;}</style><script>"), ("c", 0, None)], title="T<i>", caption="x"
    )
    assert markup.count('class="crm-bar"') == 3
    assert "height:40px" in markup and "height:160px" in markup and "height:0px" in markup
    assert 'title="&lt;b&gt;: 5"' in markup and "background:#ff0000;" in markup
    assert "<script>" not in markup and "<b>" not in markup and "T&lt;i&gt;" in markup  # colours only as #hex
    assert "Nothing yet" in bars_html([], title="T")
