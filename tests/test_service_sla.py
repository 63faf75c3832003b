"""The SLA arithmetic (plugins/crm_workspace_service/sla.py): business time, pauses, stops, the edge cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from crm_workspace_service.sla import (
    Calendar,
    Event,
    Policy,
    add_business_minutes,
    business_minutes,
    sla_state,
)

OFFICE = Calendar.from_spec("UTC", {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")})
SPLIT = Calendar.from_spec(
    "UTC", {d: [["09:00", "12:00"], ["13:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def policy(calendar=OFFICE, first=480, resolution=1440, pid=1) -> Policy:
    return Policy(pid, f"p{pid}", calendar, {"normal": first, "urgent": 60}, {"normal": resolution, "urgent": 240})


# 2026-11-30 is a Monday
MON9 = utc("2026-11-30T09:00:00")


def test_business_minutes_skip_nights_and_weekends():
    assert business_minutes(OFFICE, utc("2026-12-04T16:00:00"), utc("2026-12-07T10:00:00")) == 120
    assert add_business_minutes(OFFICE, utc("2026-12-04T16:00:00"), 120) == utc("2026-12-07T10:00:00")
    # a due time that lands on the end of the day stays at 17:00, not 09:00 the next morning
    assert add_business_minutes(OFFICE, MON9, 480) == utc("2026-11-30T17:00:00")
    # outside hours nothing counts
    assert business_minutes(OFFICE, utc("2026-11-30T18:00:00"), utc("2026-12-01T08:59:00")) == 0


def test_a_public_reply_stops_the_first_response_clock():
    events = [Event(MON9, "new", "normal", policy())]
    reply = MON9 + timedelta(minutes=90)
    later = utc("2026-12-02T12:00:00")
    state = sla_state(events, later, first_reply_at=reply)
    assert state.first_response.state == "met"
    assert state.first_response.elapsed == 90
    assert state.resolution.state == "ok" and state.resolution.elapsed == 8 * 60 * 2 + 180
    # without the reply the same ticket breached its first response at 17:00 on Monday
    unreplied = sla_state(events, later)
    assert unreplied.first_response.state == "breached"
    assert unreplied.first_response.breached_at == utc("2026-11-30T17:00:00")
    assert unreplied.state == "breached"


def test_waiting_statuses_pause_both_clocks():
    p = policy()
    events = [
        Event(MON9, "new", "normal", p),
        Event(MON9 + timedelta(hours=1), "pending", "normal", p),
        Event(utc("2026-12-01T10:00:00"), "open", "normal", p),
        Event(utc("2026-12-01T11:00:00"), "on_hold", "normal", p),
    ]
    paused = sla_state(events, utc("2026-12-03T15:00:00"))
    assert paused.first_response.state == "paused" and paused.first_response.elapsed == 120
    assert paused.first_response.due_at is None
    assert paused.resolution.state == "paused"
    running = sla_state([*events[:3]], utc("2026-12-01T12:00:00"))
    assert running.first_response.elapsed == 60 + 120
    assert running.first_response.due_at == utc("2026-12-01T17:00:00")  # 480 - 180 = 300 minutes after 12:00


def test_split_shifts_leave_the_lunch_break_out():
    start = utc("2026-11-30T11:30:00")
    assert business_minutes(SPLIT, start, utc("2026-11-30T13:30:00")) == 60
    assert add_business_minutes(SPLIT, MON9, 480) == utc("2026-12-01T10:00:00")  # 7 h a day
    state = sla_state([Event(start, "new", "normal", policy(SPLIT, first=60))], utc("2026-11-30T12:45:00"))
    assert state.first_response.state == "soon" and state.first_response.elapsed == 30
    assert state.first_response.due_at == utc("2026-11-30T13:30:00")


def test_holidays_are_not_worked():
    calendar = Calendar.from_spec(
        "UTC", {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}, ["2026-12-25"]
    )
    # Thursday 24 Dec 16:00 + 2 h: Friday is a holiday, then the weekend
    assert add_business_minutes(calendar, utc("2026-12-24T16:00:00"), 120) == utc("2026-12-28T10:00:00")
    assert business_minutes(calendar, utc("2026-12-24T16:00:00"), utc("2026-12-28T10:00:00")) == 120


def test_daylight_saving_changes_keep_local_hours():
    berlin = Calendar.from_spec("Europe/Berlin", {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")})
    # Friday 27 March 2026 16:00 CET (15:00 UTC); clocks go forward on Sunday; Monday 10:00 CEST is 08:00 UTC
    friday, monday = utc("2026-03-27T15:00:00"), utc("2026-03-30T08:00:00")
    assert business_minutes(berlin, friday, monday) == 120
    assert add_business_minutes(berlin, friday, 120) == monday
    # autumn: Friday 23 Oct 16:00 CEST (14:00 UTC) + 2 h = Monday 26 Oct 10:00 CET (09:00 UTC)
    assert add_business_minutes(berlin, utc("2026-10-23T14:00:00"), 120) == utc("2026-10-26T09:00:00")
    # round the clock: the night the clocks go forward has 23 hours
    always = Calendar.always("Europe/Berlin")
    assert business_minutes(always, utc("2026-03-28T23:00:00"), utc("2026-03-29T22:00:00")) == 23 * 60


def test_a_policy_changed_mid_ticket_keeps_the_time_worked():
    relaxed, strict = policy(resolution=480, pid=1), policy(resolution=180, pid=2)
    events = [Event(MON9, "open", "normal", relaxed), Event(MON9 + timedelta(hours=4), "open", "normal", strict)]
    state = sla_state(events, MON9 + timedelta(hours=5))
    assert state.resolution.target == 180 and state.resolution.elapsed == 300
    assert state.resolution.state == "breached"
    # the other way round: more time, measured from the start
    events = [Event(MON9, "open", "normal", strict), Event(MON9 + timedelta(hours=2), "open", "normal", relaxed)]
    state = sla_state(events, MON9 + timedelta(hours=3))
    assert state.resolution.state == "ok" and state.resolution.elapsed == 180
    assert state.resolution.due_at == MON9 + timedelta(hours=8)
    # a policy on another calendar: each stretch in the calendar it ran under
    night = policy(Calendar.always(), resolution=24 * 60, pid=3)
    events = [
        Event(utc("2026-11-30T16:00:00"), "open", "normal", relaxed),
        Event(utc("2026-11-30T20:00:00"), "open", "normal", night),
    ]
    assert sla_state(events, utc("2026-11-30T22:00:00")).resolution.elapsed == 60 + 120


def test_a_priority_change_takes_the_new_target():
    p = policy()
    events = [Event(MON9, "new", "normal", p), Event(MON9 + timedelta(minutes=30), "new", "urgent", p)]
    state = sla_state(events, MON9 + timedelta(minutes=45))
    assert state.first_response.target == 60 and state.first_response.state == "soon"


def test_solved_stops_resolution_and_reopen_resumes():
    p = policy()
    events = [
        Event(MON9, "new", "normal", p),
        Event(MON9 + timedelta(hours=2), "solved", "normal", p),
        Event(utc("2026-12-01T09:00:00"), "open", "normal", p),
    ]
    solved = sla_state(events[:2], utc("2026-12-05T09:00:00"))
    assert solved.resolution.state == "met" and solved.resolution.elapsed == 120
    reopened = sla_state(events, utc("2026-12-01T10:00:00"))
    assert reopened.resolution.state == "ok" and reopened.resolution.elapsed == 180
    assert reopened.first_response.state == "met"  # solving without a reply stopped it


def test_outside_hours_is_closed_and_the_next_opening_is_monday():
    saturday_midnight = utc("2026-12-05T00:00:00")
    assert not OFFICE.is_open(saturday_midnight)
    assert OFFICE.is_open(utc("2026-12-07T09:00:00"))
    assert OFFICE.next_open(saturday_midnight) == utc("2026-12-07T09:00:00")
    assert OFFICE.next_open(utc("2026-12-07T10:00:00")) == utc("2026-12-07T10:00:00")


def test_no_policy_or_no_target_means_no_clock():
    assert sla_state([Event(MON9, "new")], MON9).state == "none"
    p = Policy(1, "p", OFFICE, {}, {})
    assert sla_state([Event(MON9, "new", "low", p)], MON9).state == "none"


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        ({"mon": [["17:00", "09:00"]]}, "end after"),
        ({"mon": [["9:00", "12:00"], ["11:00", "13:00"]]}, "overlap"),
        ({"xyz": []}, "weekday"),
    ],
)
def test_bad_calendars_are_refused_with_a_reason(hours, message):
    with pytest.raises(ValueError, match=message):
        Calendar.from_spec("UTC", hours)
    with pytest.raises(ValueError, match="time zone"):
        Calendar.from_spec("Mars/Olympus", {})


def test_no_escalation_at_midnight_outside_business_hours():
    from crm_workspace_service.escalation import due

    # breached on Friday at 17:00; the tick runs at Saturday midnight, then Monday morning
    row = {"id": 1, "sla_due_at": "2026-12-04T17:00:00Z", "escalated_at": None, "sla_policy_id": 1}
    calendars = {1: OFFICE}
    assert due([row], calendars, utc("2026-12-05T00:00:00")) == []
    assert due([row], calendars, utc("2026-12-06T12:00:00")) == []  # Sunday
    assert due([row], calendars, utc("2026-12-07T09:01:00")) == [row]
    # escalated once: not again for the same breach
    assert due([{**row, "escalated_at": "2026-12-07T09:01:00Z"}], calendars, utc("2026-12-07T10:00:00")) == []
    # not yet due: nothing
    assert due([{**row, "sla_due_at": "2026-12-07T11:00:00Z"}], calendars, utc("2026-12-07T10:00:00")) == []
