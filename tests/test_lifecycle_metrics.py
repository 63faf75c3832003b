"""Lifecycle numbers on a small hand-computed history: funnel, conversion, time in stage, cohorts, flow."""

from __future__ import annotations

import re

import pytest

#: (contact, from, to, at): contact 3 moves backwards, 4 only subscribes
HISTORY = [
    (1, None, "subscriber", "2026-01-01T00:00:00Z"),
    (1, "subscriber", "lead", "2026-01-11T00:00:00Z"),  # 10 days a subscriber
    (1, "lead", "customer", "2026-01-31T00:00:00Z"),  # 20 days a lead
    (2, None, "lead", "2026-01-05T00:00:00Z"),
    (2, "lead", "marketing_qualified", "2026-01-09T00:00:00Z"),  # 4 days a lead
    (3, None, "subscriber", "2026-02-01T00:00:00Z"),
    (3, "subscriber", "lead", "2026-02-03T00:00:00Z"),  # 2 days a subscriber
    (3, "lead", "subscriber", "2026-02-10T00:00:00Z"),  # 7 days a lead, then backwards
    (4, None, "subscriber", "2026-02-15T00:00:00Z"),
]


@pytest.fixture
def history(workspace):
    workspace.store.insert_many(
        "contacts", [{"id": i, "last_name": f"C{i}", "owner": "ana" if i < 3 else "ben"} for i in range(1, 5)]
    )
    workspace.store.insert_many(
        "lifecycle_events",
        [{"contact_id": c, "from_stage": f, "to_stage": t, "at": at, "by": "x"} for c, f, t, at in HISTORY],
    )
    assert workspace.store.scalar("SELECT count(*) FROM lifecycle_events WHERE flagged IS NOT NULL") == 0
    return workspace


def test_funnel_counts_contacts_reaching_each_stage_or_beyond(history):
    funnel = history.df("lifecycle.funnel").set_index("stage")
    assert list(funnel["reached"]) == [4, 3, 2, 1, 1, 1, 0]
    assert list(funnel.index) == [
        "subscriber",
        "lead",
        "marketing_qualified",
        "sales_qualified",
        "opportunity",
        "customer",
        "advocate",
    ]
    assert funnel.loc["subscriber", "conversion_to_next"] == pytest.approx(0.75)
    assert funnel.loc["lead", "conversion_to_next"] == pytest.approx(2 / 3)
    assert funnel.loc["marketing_qualified", "conversion_to_next"] == pytest.approx(0.5)
    assert funnel.loc["customer", "conversion_to_next"] == 0


def test_funnel_period_and_owner_filters(history):
    february = history.df("lifecycle.funnel", start="2026-02-01", end="2026-02-28")
    assert list(february["reached"]) == [2, 1, 0, 0, 0, 0, 0]
    ana = history.df("lifecycle.funnel", owner="ana")
    assert list(ana["reached"]) == [2, 2, 2, 1, 1, 1, 0]
    january_first = history.df("lifecycle.funnel", start="2026-01-01", end="2026-01-01")
    assert list(january_first["reached"])[:2] == [1, 0]  # end date is inclusive


def test_funnel_reads_in_contact_order_when_the_period_spans_most_of_the_history(history, monkeypatch):
    """A long period is grouped by contact along the contact index (no sort); a short one reads
    its range of the time index. Both count the same."""
    from crm_workspace_lifecycle import analytics

    assert analytics._by_contact(history, None, None) == ""  # no period: SQLite's own choice
    assert "idx_lifecycle_contact_stage" in analytics._by_contact(history, "2026-01-01", "2026-02-28")
    assert analytics._by_contact(history, "2026-02-14", "2026-02-15") == ""  # 2 days of 46
    for start, end in (("2026-01-01", "2026-02-28"), ("2026-02-01", "2026-02-28"), ("2026-02-14", "2026-02-15")):
        frames = []
        for share in (0.0, 2.0):  # always, never the contact index
            monkeypatch.setattr(analytics, "CONTACT_ORDER_FROM", share)
            frames.append(list(history.df("lifecycle.funnel", start=start, end=end)["reached"]))
        assert frames[0] == frames[1], (start, end)
    assert frames[0][0] == 1  # 2026-02-15: contact 4 subscribes


def test_time_in_stage_median_and_p90_of_completed_stays(history):
    frame = history.df("lifecycle.time_in_stage").set_index("stage")
    assert list(frame.index) == ["subscriber", "lead"]  # nobody has left customer or MQL yet
    assert frame.loc["subscriber", "stays"] == 2
    assert (frame.loc["subscriber", "median_days"], frame.loc["subscriber", "p90_days"]) == (2, 10)
    assert frame.loc["lead", "stays"] == 3
    assert (frame.loc["lead", "median_days"], frame.loc["lead", "p90_days"]) == (7, 20)
    february = history.df("lifecycle.time_in_stage", start="2026-02-01", end="2026-02-28").set_index("stage")
    assert february.loc["subscriber", "median_days"] == 2 and february.loc["lead", "stays"] == 1


def test_stuck_lists_open_stays_before_customer_oldest_first(history):
    stuck = history.df("lifecycle.stuck", now="2026-03-01T00:00:00Z")
    # contact 1 is a customer now: not stuck. Contacts have no lifecycle_stage column set here
    assert stuck.empty
    with history.store.transaction():  # raw SQL writes only inside the Store's transaction
        for contact, stage in ((2, "marketing_qualified"), (3, "subscriber"), (4, "subscriber")):
            history.store.conn.execute("UPDATE contacts SET lifecycle_stage = ? WHERE id = ?", [stage, contact])
    stuck = history.df("lifecycle.stuck", now="2026-03-01T00:00:00Z")
    assert list(stuck["contact_id"]) == [2, 3, 4]
    assert list(stuck["days"]) == [51.0, 19.0, 14.0]


def test_cohorts_share_of_each_entry_month_reaching_later_stages(history):
    cohorts = history.df("lifecycle.cohorts").set_index("cohort")
    assert list(cohorts.index) == ["2026-01", "2026-02"]
    assert list(cohorts["entered"]) == [2, 2]
    assert list(cohorts.loc["2026-01"].iloc[1:]) == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.0]
    assert list(cohorts.loc["2026-02"].iloc[1:]) == [1.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0]
    only_feb = history.df("lifecycle.cohorts", start="2026-02-01")
    assert list(only_feb["cohort"]) == ["2026-02"]


def test_flow_counts_moves_with_their_direction(history):
    flow = history.df("lifecycle.flow")
    moves = {(r.from_stage, r.to_stage): (r.moves, r.direction) for r in flow.itertuples()}
    assert moves == {
        ("(new)", "subscriber"): (3, "entry"),
        ("(new)", "lead"): (1, "entry"),
        ("subscriber", "lead"): (2, "forward"),
        ("lead", "marketing_qualified"): (1, "forward"),
        ("lead", "customer"): (1, "forward"),
        ("lead", "subscriber"): (1, "backward"),
    }


def test_journey_shows_stage_changes_and_touchpoints_by_function(history):
    history.store.insert("activities", {"kind": "email", "contact_id": 1, "occurred_at": "2026-01-05T00:00:00Z"})
    history.store.insert("activities", {"kind": "call", "contact_id": 1, "occurred_at": "2026-02-05T00:00:00Z"})
    journey = history.df("lifecycle.journey", contact_id=1)
    assert list(journey["type"]) == ["stage", "email", "stage", "stage", "call"]
    assert list(journey["function"]) == ["marketing", "marketing", "marketing", "service", "service"]
    assert history.df("lifecycle.journey").empty


def test_adoption_and_data_quality_views(history):
    quality = history.df("lifecycle.data_quality").set_index("measure")
    assert quality.loc["missing email", "contacts"] == 4 and quality.loc["missing owner", "share"] == 0
    adoption = history.df("lifecycle.adoption")
    assert list(adoption.columns) == [
        "month",
        "active_users",
        "changes",
        "new_contacts",
        "new_organizations",
        "new_deals",
    ]
    assert adoption["new_contacts"].sum() == 4
    assert adoption["active_users"].max() == 1  # the tester's inserts are in the audit trail


def test_stays_table_matches_the_window_function_even_for_history_out_of_order(history):
    from crm_workspace_lifecycle import analytics

    # an imported event older than contact 2's latest: accepted, flagged, and slotted into its stays
    history.store.insert(
        "lifecycle_events",
        {"contact_id": 2, "from_stage": None, "to_stage": "subscriber", "at": "2026-01-03T00:00:00Z"},
    )
    history.store.insert("contacts", {"last_name": "Same second", "lifecycle_stage": "lead"})
    for filters in ({}, {"start": "2026-01-02", "end": "2026-02-05"}, {"owner": "ana"}):
        fast = analytics.time_in_stage(history, **filters)
        slow = analytics.time_in_stage_window(history, **filters)
        assert fast.to_dict("records") == slow.to_dict("records"), filters
    stays = history.query("SELECT stage, days FROM lifecycle_stays WHERE contact_id = 2 ORDER BY at")
    assert stays == [
        {"stage": "subscriber", "days": 2.0},
        {"stage": "lead", "days": 4.0},
        {"stage": "marketing_qualified", "days": None},
    ]


def test_funnel_labels_are_white_on_dark_bands():
    import pandas as pd
    from crm_workspace_lifecycle.views import funnel_html, label_color

    assert label_color("#08306b") == "#ffffff" and label_color("#f7fbff") == "#222222"
    frame = pd.DataFrame(
        {"stage": ["subscriber", "lead", "customer"], "reached": [209, 120, 40], "conversion_to_next": [0.5, 0.3, None]}
    )
    drawn = funnel_html(frame)
    labels = re.findall(r'<span style="color: (#\w+)">([^<]*)</span>', drawn)
    assert labels[0] == ("#ffffff", "subscriber: 209  → 50.0 %")  # on the darkest blue
    assert labels[2][1] == "customer: 40"  # the last stage: no conversion
    widths = [float(w) for w in re.findall(r"width: ([\d.]+)%", drawn)]
    assert widths[0] > widths[1] > widths[2] > 0  # as wide as the contacts reaching each stage
