"""Dates as people type them on the command line: ``today``, ``yesterday``, ``3d``, ``2 weeks ago``, ISO.

Everything resolves to the store's one time format (ISO-8601 UTC text, see
``crm_workspace.data.store.utcnow``), so a filter compares like with like. Text
that is not a date is an error naming the accepted forms, never an empty result.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from crm_workspace.errors import CrmError

FORMS = "YYYY-MM-DD, YYYY-MM-DDTHH:MM, today, yesterday, now, 3d, 12h, 2w, 6mo, '2 weeks ago'"

_UNITS = {
    "s": "seconds",
    "sec": "seconds",
    "second": "seconds",
    "min": "minutes",
    "minute": "minutes",
    "h": "hours",
    "hr": "hours",
    "hour": "hours",
    "d": "days",
    "day": "days",
    "w": "weeks",
    "wk": "weeks",
    "week": "weeks",
    "mo": "months",
    "month": "months",
    "y": "years",
    "yr": "years",
    "year": "years",
}
_AGO = re.compile(r"^(?:(\d+)|an?)\s*([a-z]+?)s?(?:\s+ago)?$")
_NAMED = {"today": 0, "yesterday": 1}


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _months_back(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    day = moment.day
    while True:
        try:
            return moment.replace(year=year, month=month + 1, day=day)
        except ValueError:  # the 31st of a shorter month: its last day
            day -= 1


def parse_when(text: str, now: datetime | None = None) -> str:
    """``text`` as an ISO-8601 UTC timestamp; a ``CrmError`` naming the accepted forms if it is not a date."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    cleaned = " ".join(text.strip().lower().split())
    if cleaned == "now":
        return _stamp(now)
    if cleaned in _NAMED:
        day = now.date() - timedelta(days=_NAMED[cleaned])
        return _stamp(datetime(day.year, day.month, day.day, tzinfo=UTC))
    match = _AGO.match(cleaned)
    if match and match.group(2) in _UNITS:
        count = int(match.group(1) or 1)
        unit = _UNITS[match.group(2)]
        if unit == "months":
            return _stamp(_months_back(now, count))
        if unit == "years":
            return _stamp(_months_back(now, 12 * count))
        return _stamp(now - timedelta(**{unit: count}))
    try:
        parsed = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        raise CrmError(f"cannot read the date {text!r}: use {FORMS}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return _stamp(parsed)


def parse_day(text: str, now: datetime | None = None) -> date:
    """``text`` (any form ``parse_when`` reads) as a calendar day in UTC."""
    return datetime.strptime(parse_when(text, now), "%Y-%m-%dT%H:%M:%SZ").date()
