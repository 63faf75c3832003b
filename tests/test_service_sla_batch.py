"""The vectorised SLA (sla_batch.py) agrees with the pure one (sla.py) ticket by ticket."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from crm_workspace_service.sla import SEVERITY, Calendar, Event, Policy, sla_state
from crm_workspace_service.sla_batch import PRIORITIES, STATUSES, batch_sla

WEEK = ("mon", "tue", "wed", "thu", "fri")
CALENDARS = [
    Calendar.from_spec("Europe/Berlin", {d: [["08:00", "12:00"], ["13:00", "17:30"]] for d in WEEK}, ["2026-03-30"]),
    Calendar.from_spec("America/New_York", {d: [["09:00", "17:00"]] for d in WEEK}),
    Calendar.always(),
]
POLICIES = [
    Policy(
        i,
        f"p{i}",
        cal,
        dict(zip(PRIORITIES, (480, 240, 60 * (i + 1), 30), strict=True)),
        dict(zip(PRIORITIES, (2400, 1440, 480, None), strict=True)),
    )
    for i, cal in enumerate(CALENDARS)
]


def random_ticket(rng: random.Random, start: datetime):
    t = start + timedelta(minutes=rng.randrange(0, 20 * 24 * 60))
    events = []
    status = "new"
    for _ in range(rng.randrange(1, 6)):
        events.append(
            Event(
                t,
                status,
                rng.choice(PRIORITIES),
                rng.choice([*POLICIES, None])
                if rng.random() < 0.1
                else POLICIES[len(events) % 3 if rng.random() < 0.3 else 0],
            )
        )
        t += timedelta(minutes=rng.randrange(1, 3 * 24 * 60))
        status = rng.choice(STATUSES)
    reply = events[0].at + timedelta(minutes=rng.randrange(1, 5000)) if rng.random() < 0.5 else None
    return events, reply


@pytest.mark.parametrize("now", [datetime(2026, 4, 8, 12, 0, tzinfo=UTC), datetime(2026, 3, 20, 14, 30, tzinfo=UTC)])
def test_batch_equals_pure(now):
    rng = random.Random(7)
    start = datetime(2026, 3, 10, tzinfo=UTC)
    tickets = [random_ticket(rng, start) for _ in range(400)]
    pos, at, status, priority, policy, first = [], [], [], [], [], []
    for n, (events, reply) in enumerate(tickets):
        for e in events:
            pos.append(n)
            at.append(e.at.timestamp())
            status.append(STATUSES.index(e.status))
            priority.append(PRIORITIES.index(e.priority))
            policy.append(POLICIES.index(e.policy) if e.policy else -1)
        first.append(reply.timestamp() if reply else np.nan)
    result = batch_sla(*(np.array(x) for x in (pos, at, status, priority, policy, first)), POLICIES, now)
    seen = set()
    for n, (events, reply) in enumerate(tickets):
        expected = sla_state(events, now, first_reply_at=reply)
        assert SEVERITY[result["state"][n]] == expected.state, n
        for clock in expected.clocks:
            m = clock.metric
            assert SEVERITY[result[f"{m}_state"][n]] == clock.state, (n, m)
            seen.add(clock.state)
            if clock.state != "none":
                assert abs(result[f"{m}_elapsed"][n] - clock.elapsed) < 1e-6, (n, m)
            due = result[f"{m}_due"][n]
            if clock.due_at is None:
                assert np.isnan(due), (n, m, clock)
            else:
                assert abs(due - clock.due_at.timestamp()) < 1e-3, (n, m, clock)
    assert {"breached", "paused", "met", "missed", "none"} <= seen
    assert "ok" in seen or now.month == 4
