"""Cell values → the values the store keeps.

Each normalizer takes a raw cell (str, float, int, bool, date, datetime, None)
and returns the stored value, or raises ``BadValue`` with a reason a person can
act on. What a spreadsheet adds is here (``n/a`` and ``-`` as blanks, runs of
spaces, lists of choices, organization names); the field rules themselves
(email, phone, dates, amounts) are ``crm_workspace.data.fields``, shared with
record validation.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

from crm_workspace.data import fields
from crm_workspace.data.fields import BadValue

__all__ = [
    "NA",
    "BadValue",
    "amount",
    "choice",
    "choice_key",
    "currency",
    "date_value",
    "email",
    "is_na",
    "org_key",
    "percent",
    "phone",
    "text",
]

NA = frozenset({"", "n/a", "na", "-", "--", "—", "null", "none", "nil", "#n/a", "n.a.", "?", "tbd", "unknown"})


def is_na(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip().lower() in NA
    return isinstance(value, float) and value != value


def text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        if "  " in value or "\n" in value or "\t" in value:
            value = " ".join(value.split())
        return None if len(value) <= 7 and value.lower() in NA else value
    if isinstance(value, float):
        if value != value:
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    return str(value)


def email(value: Any) -> str | None:
    """An address in lower case; also out of ``Ana <ana@example.com>`` and ``mailto:`` cells."""
    value = text(value)
    return None if value is None else fields.find_email(value)


def phone(value: Any, region: str = fields.DEFAULT_PHONE_REGION) -> str | None:
    """E.164 (``+4930123456``) by the one phone rule; a spreadsheet float that lost its ``+`` too."""
    if value is None:
        return None
    if isinstance(value, str):
        value = text(value)
        if value is None:
            return None
    elif isinstance(value, float) and value != value:
        return None
    return fields.normalize_phone(value, region)


def date_value(value: Any, *, day_first: bool = False) -> str | None:
    """An ISO date (or date-time) from a date cell, an Excel serial number or written text."""
    if isinstance(value, str):
        value = text(value)
    return fields.normalize_date(value, day_first=day_first)


def amount(value: Any) -> tuple[float | None, str | None]:
    """A number and the currency it names (``"1.234,50 €"`` → ``(1234.5, "EUR")``)."""
    if isinstance(value, str):
        value = text(value)
    return fields.parse_amount(value)


def percent(value: Any) -> float | None:
    if isinstance(value, str):
        value = text(value)
        if value is None:
            return None
    return fields.parse_percent(value)


def currency(value: Any) -> str | None:
    return fields.parse_currency(text(value))


def choice_key(value: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", value.lower()).strip("_")


def choice(value: Any, allowed: tuple[str, ...] | list[str], synonyms: dict[str, str] | None = None) -> str | None:
    raw = text(value)
    if raw is None:
        return None
    key = choice_key(raw)
    if key in allowed:
        return key
    if synonyms and key in synonyms:
        return synonyms[key]
    for option in allowed:  # "Sales Qualified Lead" → sales_qualified
        if key.startswith(option + "_") or option.startswith(key + "_"):
            return option
    raise BadValue(f"unknown value {raw!r} (allowed: {', '.join(allowed)})")


@lru_cache(maxsize=65536)
def org_key(name: str) -> str:
    """Organizations are the same when their names match ignoring case, spaces and punctuation."""
    return " ".join(re.sub(r"[^\w]+", " ", name.casefold()).split())
