"""SLA arithmetic in business time: a pure function of a ticket's history, its calendar and policy.

No database here. A ``Calendar`` (time zone, working hours per weekday with split shifts,
holidays) becomes a ``BusinessTable``: its working intervals as UTC epoch seconds with the
business seconds worked before each, so "business minutes between a and b" is two binary
searches and "a plus n business minutes" one (exact across DST changes: intervals are
built from local wall-clock times with ``zoneinfo``). ``sla_state(events, ...)`` replays a
ticket's status history (each event carries the status, priority and policy from then on):
time counts only while the ticket is new or open (pending and on hold pause it), the
first-response clock stops at the first public reply, resolution at solved/closed.
A policy changed mid-ticket keeps the time already worked (each stretch measured in the
calendar it ran under) against the newest policy's target.
"""

from __future__ import annotations

import bisect
import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
RUNNING = frozenset({"new", "open"})
PAUSED = frozenset({"pending", "on_hold"})
STOPPED = frozenset({"solved", "closed"})
METRICS = ("first_response", "resolution")
#: Worst first: the marker a ticket shows is the worst state of its two clocks.
SEVERITY = ("breached", "soon", "ok", "paused", "missed", "met", "none")


def parse_time(value: str | datetime) -> datetime:
    """An aware UTC datetime from the store's ISO text (``...Z``) or a datetime (naive = UTC)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _minutes(text: str) -> int:
    hours, _, minutes = str(text).partition(":")
    value = int(hours) * 60 + int(minutes or 0)
    if not 0 <= value <= 1440:
        raise ValueError(f"{text!r} is not a time of day (00:00 to 24:00)")
    return value


@dataclass(frozen=True)
class Calendar:
    """When the team works: a time zone, shifts per weekday (minutes from local midnight), holidays."""

    tz: str = "UTC"
    hours: tuple[tuple[tuple[int, int], ...], ...] = ((),) * 7
    holidays: frozenset[date] = frozenset()

    @classmethod
    def from_spec(cls, tz: str = "UTC", hours: Mapping | str | None = None, holidays: Sequence | str = ()) -> Calendar:
        """From ``{"mon": [["09:00", "12:00"], ["13:00", "17:00"]], ...}`` and ``["2026-12-25", ...]`` (or JSON).

        Raises ``ValueError`` with one line naming what is wrong.
        """
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {tz!r}") from error
        hours = json.loads(hours) if isinstance(hours, str) else (hours or {})
        holidays = json.loads(holidays) if isinstance(holidays, str) else holidays
        unknown = set(hours) - set(DAYS)
        if unknown:
            raise ValueError(f"unknown weekday {sorted(unknown)[0]!r} (use {', '.join(DAYS)})")
        week = []
        for day in DAYS:
            shifts = sorted((_minutes(a), _minutes(b)) for a, b in hours.get(day, ()))
            for i, (a, b) in enumerate(shifts):
                nxt = shifts[i + 1] if i + 1 < len(shifts) else None
                if b <= a:
                    raise ValueError(f"{day}: a shift must end after it starts ({a // 60:02}:{a % 60:02})")
                if nxt and nxt[0] < b:
                    raise ValueError(f"{day}: shifts overlap")
            week.append(tuple(shifts))
        days = set()
        for d in holidays or ():
            try:
                days.add(date.fromisoformat(str(d).strip()[:10]))
            except ValueError:
                raise ValueError(f"holiday {d!r} is not a date (YYYY-MM-DD)") from None
        return cls(tz, tuple(week), frozenset(days))

    @classmethod
    def always(cls, tz: str = "UTC") -> Calendar:
        """Round the clock, every day (24/7 support)."""
        return cls(tz, ((((0, 1440),)),) * 7)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def shifts(self, day: date) -> tuple[tuple[int, int], ...]:
        return () if day in self.holidays else self.hours[day.weekday()]

    def intervals(self, first: date, last: date) -> list[tuple[float, float]]:
        """Working intervals from ``first`` to ``last`` (local days, inclusive) as UTC epoch seconds."""
        zone, out = self.zone, []
        day = first
        while day <= last:
            midnight = datetime.combine(day, time())
            for a, b in self.shifts(day):
                start = (midnight + timedelta(minutes=a)).replace(tzinfo=zone).timestamp()
                end = (midnight + timedelta(minutes=b)).replace(tzinfo=zone).timestamp()
                if out and out[-1][1] >= start:  # 24:00 today meets 00:00 tomorrow
                    out[-1] = (out[-1][0], end)
                elif end > start:
                    out.append((start, end))
            day += timedelta(days=1)
        return out

    def is_open(self, moment: datetime) -> bool:
        """Whether ``moment`` falls in working hours (escalations wait for them)."""
        local = moment.astimezone(self.zone)
        minute = local.hour * 60 + local.minute
        return any(a <= minute < b for a, b in self.shifts(local.date()))

    def next_open(self, moment: datetime) -> datetime | None:
        """The first working moment at or after ``moment`` (None if the calendar never opens)."""
        t = moment.timestamp()
        table = business_table(self, t, t + 400 * 86400)
        i = bisect.bisect_right(table.ends, t)
        if i >= len(table.starts):
            return None
        return datetime.fromtimestamp(max(t, table.starts[i]), UTC)


class BusinessTable:
    """A calendar's working intervals over a span of days, with the business seconds before each."""

    def __init__(self, calendar: Calendar, first: date, last: date):
        zone = calendar.zone
        self.lo = datetime.combine(first, time()).replace(tzinfo=zone).timestamp()
        self.hi = datetime.combine(last + timedelta(days=1), time()).replace(tzinfo=zone).timestamp()
        self.first, self.last = first, last
        pairs = calendar.intervals(first, last)
        self.starts = [a for a, _ in pairs]
        self.ends = [b for _, b in pairs]
        self.cum: list[float] = []  # business seconds before each interval
        self.cum_end: list[float] = []  # ... and at its end
        total = 0.0
        for a, b in pairs:
            self.cum.append(total)
            total += b - a
            self.cum_end.append(total)
        self.total = total
        self._arrays = None

    def covers(self, lo: float, hi: float) -> bool:
        return self.lo <= lo and hi <= self.hi

    def worked(self, t: float) -> float:
        """Business seconds from the table's start until ``t``."""
        i = bisect.bisect_right(self.starts, t) - 1
        if i < 0:
            return 0.0
        return self.cum[i] + min(t - self.starts[i], self.ends[i] - self.starts[i])

    def moment(self, worked: float) -> float | None:
        """The earliest time at which ``worked`` business seconds have passed (None past the table)."""
        if worked <= 0:
            return self.starts[0] if self.starts and worked == 0 else None
        i = bisect.bisect_left(self.cum_end, worked)
        if i >= len(self.starts):
            return None
        return self.starts[i] + (worked - self.cum[i])

    def arrays(self):
        """The table as numpy arrays (for the vectorised path in ``sla_batch``)."""
        if self._arrays is None:
            import numpy as np

            self._arrays = tuple(
                np.asarray(x, dtype="float64") for x in (self.starts, self.ends, self.cum, self.cum_end)
            )
        return self._arrays


_tables: dict[Calendar, BusinessTable] = {}
_lock = threading.Lock()


def business_table(calendar: Calendar, lo: float, hi: float) -> BusinessTable:
    """A cached table of ``calendar`` covering epoch seconds ``lo`` to ``hi`` (grown by whole years)."""
    table = _tables.get(calendar)
    if table is not None and table.covers(lo, hi):
        return table
    with _lock:
        first = datetime.fromtimestamp(lo, UTC).date().replace(month=1, day=1) - timedelta(days=1)
        last = datetime.fromtimestamp(hi, UTC).date().replace(month=12, day=31) + timedelta(days=1)
        if table is not None:
            first, last = min(first, table.first), max(last, table.last)
        table = _tables[calendar] = BusinessTable(calendar, first, last)
    return table


def business_minutes(calendar: Calendar, start: datetime, end: datetime) -> float:
    """Business minutes between two moments (0 when ``end`` is not after ``start``)."""
    a, b = start.timestamp(), end.timestamp()
    if b <= a:
        return 0.0
    table = business_table(calendar, a, b)
    return (table.worked(b) - table.worked(a)) / 60


def add_business_minutes(
    calendar: Calendar, start: datetime, minutes: float, *, horizon_years: int = 5
) -> datetime | None:
    """The moment ``minutes`` business minutes after ``start`` (None if the calendar never gets there)."""
    a = start.timestamp()
    if minutes <= 0:
        return start
    for years in (1, horizon_years):
        table = business_table(calendar, a, a + years * 366 * 86400)
        t = table.moment(table.worked(a) + minutes * 60)
        if t is not None:
            return datetime.fromtimestamp(t, UTC)
    return None


@dataclass(frozen=True)
class Policy:
    """Targets in business minutes per priority (None: no target), measured in ``calendar``."""

    id: int | None
    name: str
    calendar: Calendar
    first_response: Mapping[str, float | None] = field(default_factory=dict)
    resolution: Mapping[str, float | None] = field(default_factory=dict)

    def target(self, metric: str, priority: str) -> float | None:
        return getattr(self, metric).get(priority)


@dataclass(frozen=True)
class Event:
    """From ``at`` on, the ticket has this status, priority and policy (a row of ticket_status_history)."""

    at: datetime
    status: str
    priority: str = "normal"
    policy: Policy | None = None


@dataclass(frozen=True)
class Clock:
    """One SLA metric of one ticket at one moment."""

    metric: str
    state: str  # none | ok | soon | breached | paused | met | missed
    target: float | None = None  # business minutes
    elapsed: float = 0.0  # business minutes counted so far
    due_at: datetime | None = None  # when a running clock breaches (in the past once breached)
    breached_at: datetime | None = None
    stopped_at: datetime | None = None

    @property
    def remaining(self) -> float | None:
        return None if self.target is None else self.target - self.elapsed


@dataclass(frozen=True)
class SlaState:
    first_response: Clock
    resolution: Clock

    @property
    def clocks(self) -> tuple[Clock, Clock]:
        return (self.first_response, self.resolution)

    @property
    def state(self) -> str:
        """The ticket's marker: the worst state of its clocks."""
        return min((c.state for c in self.clocks), key=SEVERITY.index)

    @property
    def due_at(self) -> datetime | None:
        """The next moment a clock breaches (or breached, while still pending), for sorting queues."""
        dues = [c.due_at or c.breached_at for c in self.clocks if c.state in ("ok", "soon", "breached", "paused")]
        dues = [d for d in dues if d is not None]
        return min(dues) if dues else None


def stops(events: Sequence[Event], first_reply_at: datetime | None) -> dict[str, datetime | None]:
    """When each clock stopped: first response at the first public reply (or the first solve), resolution at
    the latest solve if the ticket is still solved or closed."""
    first_stop = next((e.at for e in events if e.status in STOPPED), None)
    candidates = [t for t in (first_reply_at, first_stop) if t is not None]
    resolution = None
    if events and events[-1].status in STOPPED:
        resolution = events[-1].at
        for event in reversed(events):
            if event.status not in STOPPED:
                break
            resolution = event.at
    return {"first_response": min(candidates) if candidates else None, "resolution": resolution}


def clock(metric: str, events: Sequence[Event], stop_at: datetime | None, now: datetime, *, soon: float = 60) -> Clock:
    """Replay ``events`` (sorted by time) up to ``now`` for one metric."""
    end = min(stop_at, now) if stop_at is not None else now
    current = None
    for event in events:
        if event.at <= end:
            current = event
    if current is None or current.policy is None:
        return Clock(metric, "none")
    target = current.policy.target(metric, current.priority)
    if target is None:
        return Clock(metric, "none")
    worked, breached_at, limit = 0.0, None, target * 60
    for event, nxt in zip(events, [*events[1:], None], strict=True):
        if event.at >= end:
            break
        seg_end = min(nxt.at, end) if nxt is not None else end
        if event.status not in RUNNING or event.policy is None or seg_end <= event.at:
            continue
        table = business_table(event.policy.calendar, event.at.timestamp(), seg_end.timestamp())
        w0, w1 = table.worked(event.at.timestamp()), table.worked(seg_end.timestamp())
        if breached_at is None and worked + (w1 - w0) > limit:
            crossing = table.moment(w0 + max(limit - worked, 0.0))
            breached_at = datetime.fromtimestamp(crossing, UTC) if crossing is not None else event.at
        worked += w1 - w0
    elapsed = worked / 60
    if stop_at is not None and stop_at <= now:
        state = "missed" if elapsed > target else "met"
        return Clock(metric, state, target, elapsed, None, breached_at, stop_at)
    due = breached_at
    if current.status in RUNNING and due is None:
        due = add_business_minutes(current.policy.calendar, now, target - elapsed)
    if elapsed > target or (elapsed == target and current.status in RUNNING):
        state = "breached"
        breached_at = breached_at or now
        due = breached_at
    elif current.status not in RUNNING:
        state = "paused"
    elif target - elapsed <= soon:
        state = "soon"
    else:
        state = "ok"
    return Clock(metric, state, target, elapsed, due, breached_at if state == "breached" else None)


def sla_state(
    events: Sequence[Event], now: datetime, *, first_reply_at: datetime | None = None, soon: float = 60
) -> SlaState:
    """The SLA of a ticket at ``now``: both clocks replayed from its status history."""
    events = sorted(events, key=lambda e: e.at)
    stopped = stops(events, first_reply_at)
    return SlaState(*(clock(m, events, stopped[m], now, soon=soon) for m in METRICS))
