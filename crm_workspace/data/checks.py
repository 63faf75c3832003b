"""Small checks for ``crm_validate_record`` hooks: each normalizes a record in place.

Shared by the core's rules and the modules' (deals, relationships, lifecycle
events), so a bad number or an unknown word gets the same message whatever
table it is in. Each adds ``errors[field] = message`` when the value is wrong
and leaves fields a partial update does not touch alone.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

#: Fields whose text is kept as written (leading and trailing spaces included).
VERBATIM = frozenset({"body", "notes", "changes", "value"})


def blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def strip_text(record: dict[str, Any]) -> None:
    """Trim the text values of ``record``, except free text (``VERBATIM``)."""
    for key, value in record.items():  # replacing values of present keys: safe while iterating
        if value.__class__ is str:  # the common case first, VERBATIM asked only when a trim changes something
            trimmed = value.strip()
            if trimmed is not value and key not in VERBATIM:  # strip() gives the same str back if nothing to trim
                record[key] = trimmed
        elif isinstance(value, str) and key not in VERBATIM:  # a str subclass: stripped into a plain str
            record[key] = value.strip()


def required(record: dict, before: dict | None, field: str, errors: dict[str, str]) -> None:
    """``field`` must be given on insert, and not blanked on update."""
    if (before is None or field in record) and blank(record.get(field)):
        errors[field] = "is required"


def choice(record: dict, field: str, allowed: tuple | list, errors: dict[str, str]) -> None:
    """``field``, when given, is one of ``allowed``."""
    if field in record and not blank(record[field]) and record[field] not in allowed:
        errors[field] = f"unknown value {record[field]!r} (allowed: {', '.join(allowed)})"


def number(
    record: dict, field: str, errors: dict[str, str], *, low: float | None = None, high: float | None = None
) -> None:
    """``field``, when given, is a finite number within bounds (stored as a float; blank as null)."""
    if field not in record:  # a partial update that does not touch this field
        return
    value = record[field]
    if blank(value):
        record[field] = None
        return
    try:
        amount = float(value)
    except (TypeError, ValueError):
        errors[field] = f"must be a number, not {value!r}"
        return
    if math.isnan(amount) or math.isinf(amount):
        errors[field] = "must be a finite number"
    elif low is not None and amount < low:
        errors[field] = f"must be at least {low:g}"
    elif high is not None and amount > high:
        errors[field] = f"must be at most {high:g}"
    else:
        record[field] = amount


def date(record: dict, field: str, errors: dict[str, str]) -> None:
    """``field``, when given, is an ISO date or time (kept as trimmed text; blank as null)."""
    value = record.get(field)
    if blank(value):
        if field in record:
            record[field] = None
        return
    text = str(value).strip()
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        errors[field] = f"must be an ISO date (YYYY-MM-DD), not {value!r}"
        return
    record[field] = text


#: The longest text a short field keeps: a name, a title, a city (``max_length``'s limits).
TEXT_LIMITS = {
    "first_name": 100,
    "last_name": 100,
    "name": 200,
    "title": 200,
    "email": 254,
    "phone": 40,
    "domain": 253,
    "industry": 100,
    "city": 100,
    "country": 100,
    "source": 100,
    "owner": 64,
    "lost_reason": 500,
    "notes": 20000,
    "body": 20000,
}


#: The shortest of ``TEXT_LIMITS``: a record without a longer text has nothing too long.
_SHORTEST_LIMIT = min(TEXT_LIMITS.values())


def max_length(record: dict, errors: dict[str, str], limits: dict[str, int] | None = None) -> None:
    """Each text field of ``record`` named in ``limits`` (default ``TEXT_LIMITS``) is at most that long."""
    if not limits:
        for value in record.values():  # the common case, checked once per value: nothing that long
            if value.__class__ is str and len(value) > _SHORTEST_LIMIT:
                break
        else:
            return
    for field, limit in (limits or TEXT_LIMITS).items():
        value = record.get(field)
        if value.__class__ is str and len(value) > limit:
            errors.setdefault(field, f"is too long: at most {limit:,} characters (this one has {len(value):,})")
