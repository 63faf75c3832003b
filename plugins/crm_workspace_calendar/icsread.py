"""Reading .ics files and invitations into meeting occurrences, bounded.

A file (or the ``text/calendar`` parts of an e-mail, such as a METHOD:REQUEST
invitation) becomes a list of ``Occurrence``: one per event, and one per instance of
a recurring event. Every bound is explicit:

- size: at most ``MAX_BYTES`` of input;
- attendees: the first ``MAX_ATTENDEES`` of an event are matched (with a warning);
- recurrence: a series (RRULE, also without an end) is expanded from ``EXPAND_DAYS``
  before the import to ``EXPAND_DAYS`` after it, at most ``MAX_OCCURRENCES`` per series
  (with a warning). Each instance is its own meeting, keyed by its RECURRENCE-ID, so a
  later import adds the instances that moved into the window and changes none twice.

Anything that is not valid iCalendar (a line that does not parse, an event without
a start or with a broken date) is a ``CalendarImportError`` naming the problem; the
caller writes nothing then.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email import message_from_bytes
from email import policy as email_policy
from typing import Any

from crm_workspace.errors import CrmError

MAX_BYTES = 5 * 1024 * 1024
MAX_ATTENDEES = 200
MAX_OCCURRENCES = 500
EXPAND_DAYS = 365
MAX_TEXT = 4000


class CalendarImportError(CrmError):
    """A calendar file that cannot be imported: nothing was written."""


@dataclass
class Occurrence:
    uid: str
    recurrence_id: str  # '' for a single event
    start: datetime  # UTC
    end: datetime | None
    all_day: bool
    summary: str
    description: str
    location: str
    organizer: str
    people: list[tuple[str, str]]  # (email, name): the organizer and the attendees, each once
    sequence: int
    cancelled: bool
    method: str


@dataclass
class Reading:
    occurrences: list[Occurrence] = field(default_factory=list)
    events: int = 0
    warnings: list[str] = field(default_factory=list)


def calendar_texts(data: bytes, filename: str = "") -> list[bytes]:
    """The iCalendar texts in ``data``: the file itself, or the text/calendar parts of an e-mail."""
    if len(data) > MAX_BYTES:
        raise CalendarImportError(
            f"{filename or 'the file'} is {len(data) / 1e6:.1f} MB: calendar files over {MAX_BYTES // 2**20} MB are refused"
        )
    head = data.lstrip()[:200].upper()
    if head.startswith(b"BEGIN:VCALENDAR") or filename.lower().endswith((".ics", ".ical", ".ifb")):
        return [data]
    message = message_from_bytes(data, policy=email_policy.default)
    parts = [
        part.get_payload(decode=True) or b""
        for part in message.walk()
        if part.get_content_type() in ("text/calendar", "application/ics") and not part.is_multipart()
    ]
    if not parts:
        raise CalendarImportError(
            f"{filename or 'the file'} is neither an iCalendar file nor an e-mail with an invitation"
        )
    return parts


def read_calendars(data: bytes, filename: str = "", now: datetime | None = None) -> Reading:
    """Every meeting occurrence in ``data`` (an .ics file or an e-mail with invitations)."""
    from icalendar import Calendar

    now = now or datetime.now(UTC)
    reading = Reading()
    for text in calendar_texts(data, filename):
        try:
            calendars = Calendar.from_ical(text, multiple=True)
        except (ValueError, IndexError, KeyError) as error:
            raise CalendarImportError(f"not a valid iCalendar file: {_short(error)}") from None
        if not calendars:
            raise CalendarImportError("not a valid iCalendar file: no complete BEGIN:VCALENDAR ... END:VCALENDAR")
        for cal in calendars:
            _read_calendar(cal, now, reading)
    if not reading.events:
        raise CalendarImportError("the calendar holds no events (VEVENT)")
    return reading


def _short(error: Exception) -> str:
    text = " ".join(str(error).split())
    return text[:200] + ("…" if len(text) > 200 else "")


def _read_calendar(cal: Any, now: datetime, reading: Reading) -> None:
    method = str(cal.get("method", "") or "").upper()
    masters: dict[str, Any] = {}
    overrides: dict[str, dict[str, Any]] = {}
    for number, event in enumerate(cal.walk("VEVENT"), start=1):
        reading.events += 1
        uid = str(event.get("uid", "") or "").strip()
        if not uid:
            raise CalendarImportError(f"event {number} ({_text(event, 'summary') or 'no title'}) has no UID")
        _start(event, uid)  # refuse a missing or broken start before anything is planned
        if event.get("recurrence-id") is not None:
            overrides.setdefault(uid, {})[_key(_moment(event, "recurrence-id", uid))] = event
        else:
            masters[uid] = event
    for uid, event in masters.items():
        if event.get("rrule") is None:
            reading.occurrences.append(_occurrence(event, uid, "", method, reading))
            continue
        for start in _expand(event, uid, now, reading):
            key = _key(start)
            single = overrides.get(uid, {}).pop(key, None)
            if single is not None:
                reading.occurrences.append(_occurrence(single, uid, key, method, reading))
            else:
                reading.occurrences.append(_occurrence(event, uid, key, method, reading, start=start))
    for uid, singles in overrides.items():  # an invitation to one instance, or instances outside the window
        for key, event in singles.items():
            if uid not in masters or key in {o.recurrence_id for o in reading.occurrences if o.uid == uid}:
                reading.occurrences.append(_occurrence(event, uid, key, method, reading))


def _text(event: Any, name: str) -> str:
    value = event.get(name)
    if isinstance(value, list):
        value = value[0] if value else ""
    return " ".join(str(value or "").split()) if name == "summary" else str(value or "").strip()


def _moment(event: Any, name: str, uid: str) -> date | datetime:
    prop = event.get(name)
    try:
        value = getattr(prop, "dt", None)
    except Exception:  # icalendar's BrokenCalendarProperty (a vBroken value); its class moved between versions
        value = None
    if not isinstance(value, date):
        raise CalendarImportError(f"event {uid}: {name.upper()} is not a valid date or time ({prop!r:.80})")
    return value


def _start(event: Any, uid: str) -> date | datetime:
    if event.get("dtstart") is None:
        raise CalendarImportError(f"event {uid} has no DTSTART (start time)")
    return _moment(event, "dtstart", uid)


def _utc(value: date | datetime) -> datetime:
    if not isinstance(value, datetime):
        return datetime.combine(value, time(0), tzinfo=UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _key(value: date | datetime) -> str:
    """A RECURRENCE-ID as stable text: UTC time, or the day for an all-day instance."""
    if not isinstance(value, datetime):
        return value.strftime("%Y%m%d")
    return _utc(value).strftime("%Y%m%dT%H%M%SZ")


def _expand(event: Any, uid: str, now: datetime, reading: Reading) -> list[date | datetime]:
    from dateutil.rrule import rruleset, rrulestr

    start = _start(event, uid)
    all_day = not isinstance(start, datetime)
    anchor = datetime.combine(start, time(0), tzinfo=UTC) if all_day else start
    if anchor.tzinfo is None:
        anchor = anchor.replace(tzinfo=UTC)  # floating time: read as UTC
    rules = event.get("rrule")
    rules = rules if isinstance(rules, list) else [rules]
    series = rruleset()
    try:
        for rule in rules:
            text = rule.to_ical().decode()
            # an UNTIL without a zone next to a start with one: dateutil refuses it; RFC 5545 means UTC
            text = re.sub(
                r"UNTIL=(\d{8})(?:T(\d{6}))?(?!Z)(?=;|$)", lambda m: f"UNTIL={m[1]}T{m[2] or '235959'}Z", text
            )
            series.rrule(rrulestr(text, dtstart=anchor))
        for name, add in (("exdate", series.exdate), ("rdate", series.rdate)):
            values = event.get(name)
            for prop in values if isinstance(values, list) else [values] if values is not None else []:
                for item in getattr(prop, "dts", []):
                    moment = item.dt
                    add(
                        datetime.combine(moment, time(0), tzinfo=UTC)
                        if not isinstance(moment, datetime)
                        else _utc(moment)
                    )
    except (ValueError, TypeError) as error:
        raise CalendarImportError(f"event {uid}: its recurrence rule cannot be read ({_short(error)})") from None
    low, high = now - timedelta(days=EXPAND_DAYS), now + timedelta(days=EXPAND_DAYS)
    found: list[date | datetime] = []
    for moment in series.xafter(low, count=MAX_OCCURRENCES + 1, inc=True):
        if moment > high:
            break
        if len(found) == MAX_OCCURRENCES:
            reading.warnings.append(
                f"{_text(event, 'summary') or uid}: a series with more than {MAX_OCCURRENCES} instances within "
                f"{EXPAND_DAYS} days before and after today; only the first {MAX_OCCURRENCES} were logged"
            )
            break
        found.append(moment.date() if all_day else moment)
    return found


def _people(event: Any, uid: str, reading: Reading) -> tuple[str, list[tuple[str, str]]]:
    organizer = event.get("organizer")
    attendees = event.get("attendee") or []
    attendees = attendees if isinstance(attendees, list) else [attendees]
    if len(attendees) > MAX_ATTENDEES:
        reading.warnings.append(
            f"{_text(event, 'summary') or uid}: {len(attendees)} attendees; only the first {MAX_ATTENDEES} were matched"
        )
        attendees = attendees[:MAX_ATTENDEES]
    people: dict[str, str] = {}
    for address in ([organizer] if organizer is not None else []) + list(attendees):
        params = getattr(address, "params", {})
        if address is not organizer and str(params.get("PARTSTAT", "")).upper() == "DECLINED":
            continue  # who declined did not meet: no meeting on their timeline
        email = re.sub(r"^mailto:", "", str(address), flags=re.I).strip().lower()
        if "@" in email and email not in people:
            people[email] = str(params.get("CN", "") or "").strip()
    first = re.sub(r"^mailto:", "", str(organizer or ""), flags=re.I).strip().lower()
    return first, list(people.items())


def _occurrence(
    event: Any, uid: str, key: str, method: str, reading: Reading, start: date | datetime | None = None
) -> Occurrence:
    first = _start(event, uid)
    start = first if start is None else start
    all_day = not isinstance(first, datetime)
    end: datetime | None = None
    if event.get("dtend") is not None:
        end = _utc(_moment(event, "dtend", uid)) + (_utc(start) - _utc(first))
    elif event.get("duration") is not None and isinstance(getattr(event.get("duration"), "dt", None), timedelta):
        end = _utc(start) + event.get("duration").dt
    organizer, people = _people(event, uid, reading)
    status = str(event.get("status", "") or "").upper()
    try:
        sequence = int(str(event.get("sequence", 0) or 0))
    except ValueError:
        sequence = 0
    return Occurrence(
        uid=uid[:500],
        recurrence_id=key,
        start=_utc(start),
        end=end,
        all_day=all_day,
        summary=_text(event, "summary")[:200],
        description=_text(event, "description")[:MAX_TEXT],
        location=_text(event, "location")[:500],
        organizer=organizer,
        people=people,
        sequence=sequence,
        cancelled=method == "CANCEL" or status == "CANCELLED",
        method=method,
    )
