"""Cell values → the values the store keeps.

Each normalizer takes a raw cell (str, float, int, bool, date, datetime, None)
and returns the stored value, or raises ``BadValue`` with a reason a person can
act on. They are called once per cell, so the common cases come first.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

NA = frozenset({"", "n/a", "na", "-", "--", "—", "null", "none", "nil", "#n/a", "n.a.", "?", "tbd", "unknown"})
EXCEL_EPOCH = datetime(1899, 12, 30)


class BadValue(ValueError):
    """A cell that cannot become the field's value; the message says why."""


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


_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
_EMAIL_WRAPPED = re.compile(r"<([^<>]+@[^<>]+)>|mailto:(\S+)", re.I)


def email(value: Any) -> str | None:
    value = text(value)
    if value is None:
        return None
    value = value.lower()
    if _EMAIL.match(value):
        return value
    wrapped = _EMAIL_WRAPPED.search(value)
    if wrapped:
        candidate = (wrapped.group(1) or wrapped.group(2)).strip()
        if _EMAIL.match(candidate):
            return candidate
    if not value.isascii():  # internationalised addresses: let email-validator decide
        try:
            from email_validator import EmailNotValidError, validate_email

            return validate_email(value, check_deliverability=False).normalized.lower()
        except EmailNotValidError:
            pass
    raise BadValue(f"not an email address: {value!r}")


_PHONE_PLAIN = re.compile(r"^\+?[0-9 ().\-/]{6,24}$")
_PHONE_STRIP = str.maketrans("", "", " ().-/")


def phone(value: Any, region: str = "US") -> str | None:
    """E.164 (``+4930123456``) where parseable; otherwise the text as given (never lost).

    The common shapes are handled without phonenumbers (it costs ~50 µs a number):
    ``+49 30 1234567``, ``0049…``, a float that lost its ``+``, a national number
    with the region's trunk prefix. The rest goes through phonenumbers.
    """
    if value is None:
        return None
    if isinstance(value, float):
        if value != value:
            return None
        value = str(int(value)) if value.is_integer() else str(value)
    elif isinstance(value, int):
        value = str(value)
    else:
        value = text(value)
        if value is None:
            return None
    if _PHONE_PLAIN.match(value):
        digits = value.translate(_PHONE_STRIP)
        if digits.startswith("+"):
            if 8 <= len(digits) <= 16 and digits[1] != "0":
                return digits
        elif digits.startswith("00"):
            if 10 <= len(digits) <= 17:
                return "+" + digits[2:]
        else:
            fast = _national(digits, region)
            if fast:
                return fast
    return _phone_slow(value, region)


@lru_cache(maxsize=64)
def _region_rule(region: str) -> tuple[str, str, int] | None:
    """(country code, trunk prefix, national length or 0) of a region, for the fast path."""
    import phonenumbers

    code = phonenumbers.country_code_for_region(region)
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if not code or meta is None or region in ("IT", "SM", "VA"):  # Italy keeps its leading 0
        return None
    national_length = 10 if code == 1 else 0  # NANP: always ten digits
    return str(code), meta.national_prefix or "", national_length


def _national(digits: str, region: str) -> str | None:
    rule = _region_rule(region)
    if rule is None:
        return None
    code, trunk, length = rule
    if length:  # NANP: 212 555 0123, 1 212 555 0123
        if len(digits) == length + 1 and digits.startswith(code):
            digits = digits[1:]
        if len(digits) == length and digits[0] in "23456789":
            return "+" + code + digits
        if len(digits) >= 11 and digits[0] != "0" and _known_country(digits):  # a float that lost its "+"
            return "+" + digits
        return None
    if trunk and digits.startswith(trunk) and 7 <= len(digits) - len(trunk) + len(code) <= 15:
        return "+" + code + digits[len(trunk) :]
    if len(digits) >= 11 and digits[0] != "0" and _known_country(digits):
        return "+" + digits
    return None


def _known_country(digits: str) -> bool:
    import phonenumbers

    table = phonenumbers.COUNTRY_CODE_TO_REGION_CODE
    return any(int(digits[:n]) in table for n in (1, 2, 3)) and len(digits) <= 15


@lru_cache(maxsize=4096)
def _phone_slow(value: str, region: str) -> str:
    import phonenumbers

    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return value
    if phonenumbers.is_valid_number(number):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    digits = value.translate(_PHONE_STRIP)
    if digits.isdigit() and len(digits) >= 9:  # a number stored as a float lost its "+"
        try:
            number = phonenumbers.parse("+" + digits, None)
        except phonenumbers.NumberParseException:
            return value
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return value


_ISO_DATE = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?\s*(?:Z|[+-]00:?00)?$"
)
_NUMERIC_DATE = re.compile(
    r"^(\d{1,4})[/.\-](\d{1,2})[/.\-](\d{1,4})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?)?$"
)
_TEXT_FORMATS = (
    "%d %b %Y",
    "%d %B %Y",
    "%b %d %Y",
    "%B %d %Y",
    "%d-%b-%Y",
    "%d-%b-%y",
    "%b %Y",
    "%B %Y",
    "%a %b %d %Y",
    "%A %d %B %Y",
    "%Y%m%d",
)


def date_value(value: Any, *, day_first: bool = False) -> str | None:
    """An ISO date (``2024-03-05``), or date-time (``2024-03-05T10:30:00Z``) when the cell has a time."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        raise BadValue(f"not a date: {value!r}")
    if isinstance(value, (int, float)):
        if value != value:
            return None
        if 1 <= value < 2958466:  # an Excel serial day number
            return _iso(EXCEL_EPOCH + timedelta(days=float(value)))
        raise BadValue(f"not a date: {value!r}")
    raw = text(value)
    if raw is None:
        return None
    match = _ISO_DATE.match(raw)
    try:
        if match:
            y, m, d, hh, mm, ss = match.groups()
            return _iso(datetime(int(y), int(m), int(d), int(hh or 0), int(mm or 0), int(ss or 0)), bool(hh))
        match = _NUMERIC_DATE.match(raw)
        if match:
            a, b, c, hh, mm, ss, ampm = match.groups()
            if len(a) == 4:
                y, m, d = int(a), int(b), int(c)
            else:
                first, second = int(a), int(b)
                y = int(c) + (2000 if len(c) == 2 and int(c) < 70 else 1900 if len(c) == 2 else 0)
                dotted = "." in raw
                if first > 12 or ((day_first or dotted) and second <= 12):
                    d, m = first, second
                else:
                    m, d = first, second
            hour = int(hh or 0)
            if ampm:
                hour = hour % 12 + (12 if ampm.lower() == "pm" else 0)
            return _iso(datetime(y, m, d, hour, int(mm or 0), int(ss or 0)), bool(hh))
    except ValueError as error:
        raise BadValue(f"not a valid date: {raw!r}") from error
    cleaned = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", raw.replace(",", " "))
    cleaned = " ".join(cleaned.split())
    for fmt in _TEXT_FORMATS:
        try:
            return datetime.strptime(cleaned, fmt).date().isoformat()
        except ValueError:
            continue
    raise BadValue(f"not a date: {raw!r}")


def _iso(moment: datetime, with_time: bool | None = None) -> str:
    if with_time is None:
        with_time = bool(moment.hour or moment.minute or moment.second)
    if not with_time:
        return moment.date().isoformat()
    return moment.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


CURRENCY_SYMBOLS = {"€": "EUR", "$": "USD", "£": "GBP", "¥": "JPY", "₹": "INR", "CHF": "CHF", "kr": "SEK", "R$": "BRL"}
_CODE = re.compile(r"\b([A-Z]{3})\b")
_AMOUNT_JUNK = re.compile(r"[^\d,.\-+()]")
_SCALE = {"k": 1e3, "m": 1e6, "mm": 1e6, "bn": 1e9, "b": 1e9}


def amount(value: Any) -> tuple[float | None, str | None]:
    """A number from ``1234.5``, ``"$1,234.50"``, ``"1.234,50 €"``, ``"(300)"``, ``"12k"``; and the currency it names."""
    if value is None:
        return None, None
    if isinstance(value, bool):
        raise BadValue(f"not an amount: {value!r}")
    if isinstance(value, (int, float)):
        if value != value:
            return None, None
        return float(value), None
    raw = text(value)
    if raw is None:
        return None, None
    currency = None
    for symbol, code in CURRENCY_SYMBOLS.items():
        if symbol in raw:
            currency = code
    code = _CODE.search(raw.upper())
    if code and code.group(1) not in ("K", "MM", "BN"):
        currency = code.group(1)
    lowered = raw.lower().rstrip(". ")
    scale = 1.0
    suffix = re.search(r"\d\s*(k|mm|m|bn|b)$", lowered)
    if suffix:
        scale = _SCALE[suffix.group(1)]
    number = _AMOUNT_JUNK.sub("", raw)
    negative = (number.startswith("(") and number.endswith(")")) or number.startswith("-") or number.endswith("-")
    number = number.strip("()+-")
    if not number or not any(ch.isdigit() for ch in number):
        raise BadValue(f"not an amount: {raw!r}")
    if "," in number and "." in number:
        if number.rfind(",") > number.rfind("."):
            number = number.replace(".", "").replace(",", ".")
        else:
            number = number.replace(",", "")
    elif "," in number:
        parts = number.split(",")
        number = number.replace(",", "") if len(parts) > 2 or len(parts[-1]) == 3 else number.replace(",", ".")
    elif number.count(".") > 1:
        number = number.replace(".", "")
    try:
        result = float(number) * scale
    except ValueError as error:
        raise BadValue(f"not an amount: {raw!r}") from error
    return (-result if negative else result), currency


def percent(value: Any) -> float | None:
    if isinstance(value, str) and "%" in value:
        number, _ = amount(value.replace("%", ""))
        return number
    number, _ = amount(value)
    if number is not None and 0 < number < 1 and not isinstance(value, str):
        return round(number * 100, 6)  # a percentage cell holds a fraction
    return number


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
