"""Field rules shared by validation and import: email, phone, dates, amounts.

Each rule lives here once. Record validation (the contacts module's
``crm_validate_record``) and the spreadsheet importer both call these
functions, so a value the importer normalized is one validation accepts
unchanged, and a phone is parsed once per import, not twice.

A rule returns the stored value, or raises ``BadValue`` with a message a person
can act on. The common shapes are handled without the slow libraries
(phonenumbers ~50 µs a number, email-validator ~50 µs an address): imports hold
hundreds of thousands of values.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol

#: The region a phone number without a country code is read in, unless the workspace says otherwise.
DEFAULT_PHONE_REGION = "DE"
#: The workspace setting that names that region (an ISO 3166 code such as "US").
PHONE_REGION_SETTING = "default_phone_region"


class BadValue(ValueError):
    """A value that cannot become the field's value; the message says why.

    ``reason`` is the underlying library's explanation, when there is one.
    """

    def __init__(self, message: str, reason: str | None = None):
        super().__init__(message)
        self.reason = reason


class HasSettings(Protocol):
    def setting(self, key: str, default: Any = None) -> Any: ...


def phone_region(settings: HasSettings) -> str:
    """The configured default phone region (read it once per validation or import)."""
    region = settings.setting(PHONE_REGION_SETTING, DEFAULT_PHONE_REGION)
    return str(region or DEFAULT_PHONE_REGION).upper()


# ------------------------------------------------------------------- email
# Plain ASCII addresses that email-validator always accepts unchanged (apart from case):
# checked by this regex in ~1 µs instead of ~50 µs. Anything else (Unicode, quoted parts,
# punycode or any label with "--" third and fourth, special-use domains) goes to
# email-validator. tests/test_contacts_validation_fastpath.py fuzzes the agreement.
SIMPLE_EMAIL = re.compile(
    r"(?=.{6,254}$)(?=[^@]{1,64}@)[a-z0-9_%+-]+(?:\.[a-z0-9_%+-]+)*"
    r"@(?:(?!-)(?![a-z0-9]{2}--)[a-z0-9-]{1,63}(?<!-)\.)+(?!(?:arpa|invalid|local|localhost|onion|test)$)[a-z]{2,63}",
    re.IGNORECASE,
)
_EMAIL_WRAPPED = re.compile(r"<([^<>]+@[^<>]+)>|mailto:(\S+)", re.I)


def normalize_email(value: str) -> str:
    """The address in lower case (syntax only, no DNS), or ``BadValue``."""
    text = value.strip()
    if SIMPLE_EMAIL.fullmatch(text):
        lowered = text.lower()
        return text if lowered == text else lowered  # the same object when unchanged: imports hold 100ks
    from email_validator import EmailNotValidError, validate_email

    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError as error:
        raise BadValue(f"not an email address: {text!r}", str(error)) from error
    return result.normalized.lower()


def find_email(value: str) -> str:
    """``normalize_email``, also taking the address out of ``Ana <ana@example.com>`` or ``mailto:``."""
    try:
        return normalize_email(value)
    except BadValue:
        wrapped = _EMAIL_WRAPPED.search(value)
        if not wrapped:
            raise
    return normalize_email(wrapped.group(1) or wrapped.group(2))


# ------------------------------------------------------------------- phone
_E164 = re.compile(r"\+[1-9]\d{6,14}")
_PHONE_PLAIN = re.compile(r"\+?[0-9 ().\-/]{6,24}")
_PHONE_STRIP = str.maketrans("", "", " ().-/")


def normalize_phone(value: str | float, region: str = DEFAULT_PHONE_REGION) -> str | None:
    """The number in E.164 (``+4930123456``); text without a digit (``call reception``) as given.

    Numbers without a country code are read in ``region``. A spreadsheet number that
    lost its ``+`` (``4930123456.0``) and ``0049…`` are understood. Text with digits that
    is no possible phone number (``12ab``) is a ``BadValue``. Idempotent: an E.164 result
    is recognised by ``is_e164`` in ~1 µs, so validating what an import normalized does
    not parse it again.
    """
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return None
        value = str(int(value)) if value.is_integer() else str(value)
    elif not isinstance(value, str):
        value = str(value)
    text = value.strip()
    if not text:
        return None
    if is_e164(text):
        return text
    if _PHONE_PLAIN.fullmatch(text):
        digits = text.translate(_PHONE_STRIP)
        if digits.startswith("+"):
            fast = digits if is_e164(digits) else None
        elif digits.startswith("00"):
            fast = "+" + digits[2:] if is_e164("+" + digits[2:]) else None
        else:
            fast = _national(digits, region)
        if fast:
            return fast
    return _phone_slow(text, region)


def is_e164(text: str) -> bool:
    """Whether ``text`` is exactly what ``normalize_phone`` makes of it: a possible number in E.164.

    Exact without phonenumbers' parser (~1 µs): a known country code, a national number
    of a possible length for it that phonenumbers would not shorten by a national prefix.
    """
    if not _E164.fullmatch(text):
        return False
    rules = _COUNTRY_RULES
    for end in (2, 3, 4):  # country codes are prefix-free: at most one length is a code
        code = text[1:end]
        rule = rules.get(code)
        if rule is None:
            rule = rules[code] = _country_rule(code)
        if rule:
            lengths, national_prefix = rule
            national = text[end:]
            return len(national) in lengths and not (national_prefix and national_prefix(national))
    return False


#: country calling code → (possible national lengths, national prefix matcher), or False: not a code
_COUNTRY_RULES: dict[str, Any] = {}


def _country_rule(code: str) -> tuple[frozenset[int], Callable[[str], Any] | None] | bool:
    import phonenumbers

    number = int(code)
    if number not in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
        return False
    region = phonenumbers.region_code_for_country_code(number)
    meta = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(number, region)
    if meta is None or meta.general_desc is None:
        return False
    lengths = tuple(meta.general_desc.possible_length or ())
    if not lengths or lengths[0] == -1:
        return False
    prefix = meta.national_prefix_for_parsing
    return frozenset(lengths), re.compile(prefix).match if prefix else None


@lru_cache(maxsize=64)
def _region_rule(region: str) -> tuple[str, str, int] | None:
    """(country code, trunk prefix, national length or 0) of a region, for the fast path."""
    import phonenumbers

    code = phonenumbers.country_code_for_region(region)
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if not code or meta is None:
        return None
    trunk = meta.national_prefix or ""
    if meta.national_prefix_for_parsing not in (None, trunk) or meta.national_prefix_transform_rule:
        return None  # prefixes with carrier codes or rewrites: phonenumbers decides
    national_length = 10 if code == 1 else 0  # NANP: always ten digits
    return str(code), trunk, national_length


def _national(digits: str, region: str) -> str | None:
    """E.164 of the common national shapes in ``region`` (``030 1234567``, ``212 555 0123``), or None."""
    rule = _region_rule(region)
    if rule is None:
        return None
    code, trunk, length = rule
    if length:  # NANP: 212 555 0123, 1 212 555 0123
        if len(digits) == length + 1 and digits.startswith(code):
            digits = digits[1:]
        if len(digits) == length and digits[0] in "23456789":
            candidate = "+" + code + digits
            return candidate if is_e164(candidate) else None
    elif trunk and digits.startswith(trunk):
        candidate = "+" + code + digits[len(trunk) :]
        return candidate if is_e164(candidate) else None
    if len(digits) >= 11 and digits[0] != "0" and is_e164("+" + digits):  # a number that lost its "+"
        return "+" + digits
    return None


@lru_cache(maxsize=4096)
def _phone_slow(text: str, region: str) -> str:
    import phonenumbers

    if not any(ch.isdigit() for ch in text):
        return text  # a note such as "ask reception": kept, never lost
    number = failure = None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as error:
        failure = error.error_type
    if number is not None and phonenumbers.is_valid_number(number):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    digits = text.translate(_PHONE_STRIP)
    if digits.isdigit() and len(digits) >= 9:  # a number stored as a float lost its "+"
        with contextlib.suppress(phonenumbers.NumberParseException):
            plus = phonenumbers.parse("+" + digits, None)
            if phonenumbers.is_valid_number(plus):
                return phonenumbers.format_number(plus, phonenumbers.PhoneNumberFormat.E164)
    if number is not None and phonenumbers.is_possible_number(number):
        return _read_back(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    reason = _phone_reason(text, number, failure)
    raise BadValue(f"not a phone number: {text!r} ({reason})", reason)


def _read_back(e164: str) -> str:
    """``e164`` as phonenumbers reads it back, until it stays the same. A possible but invalid number
    may lose a leading zero on each reading ("000000000" in DE: +4900000000, then +490000000, ...), and what an
    import stores must pass validation unchanged."""
    import phonenumbers

    for _ in range(len(e164)):  # each reading may drop one zero
        try:
            again = phonenumbers.format_number(phonenumbers.parse(e164, None), phonenumbers.PhoneNumberFormat.E164)
        except phonenumbers.NumberParseException:
            return e164
        if again == e164:
            break
        e164 = again
    return e164


def _phone_reason(text: str, number: Any, parse_error: int | None) -> str:
    """Why phonenumbers refused a number, in words."""
    import phonenumbers
    from phonenumbers import NumberParseException as Parse
    from phonenumbers import ValidationResult as Length

    if number is not None:
        return {
            Length.INVALID_COUNTRY_CODE: "unknown country code",
            Length.TOO_SHORT: "too short",
            Length.TOO_LONG: "too long",
        }.get(phonenumbers.is_possible_number_with_reason(number), "not a possible length")
    if parse_error == Parse.NOT_A_NUMBER and any(ch.isalpha() for ch in text):
        return "letters among the digits"
    return {
        Parse.INVALID_COUNTRY_CODE: "unknown country code",
        Parse.TOO_SHORT_AFTER_IDD: "too short",
        Parse.TOO_SHORT_NSN: "too short",
        Parse.TOO_LONG: "too long",
    }.get(parse_error, "not a number")


# ------------------------------------------------------------------- dates
EXCEL_EPOCH = datetime(1899, 12, 30)
ISO_DATE = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?\s*(?:Z|[+-]00:?00)?$"
)
NUMERIC_DATE = re.compile(
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


def normalize_date(value: Any, *, day_first: bool = False) -> str | None:
    """An ISO date (``2024-03-05``), or date-time (``2024-03-05T10:30:00Z``) when the value has a time.

    Takes dates and datetimes, Excel serial day numbers, ISO text, ``03/25/2024``
    (``25/03/2024`` and ``25.03.2024`` day first, or all day first with ``day_first``),
    and written forms such as ``March 5, 2024`` or ``5 Mar 2024``.
    """
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
    raw = " ".join(str(value).split())
    if not raw:
        return None
    match = ISO_DATE.match(raw)
    try:
        if match:
            y, m, d, hh, mm, ss = match.groups()
            return _iso(datetime(int(y), int(m), int(d), int(hh or 0), int(mm or 0), int(ss or 0)), bool(hh))
        match = NUMERIC_DATE.match(raw)
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


def is_day_first(value: Any) -> bool:
    """Whether a text date can only be read day first (``25/03/2024``)."""
    if not isinstance(value, str):
        return False
    match = NUMERIC_DATE.match(value.strip())
    return bool(match) and len(match.group(1)) <= 2 and int(match.group(1)) > 12


def _iso(moment: datetime, with_time: bool | None = None) -> str:
    if with_time is None:
        with_time = bool(moment.hour or moment.minute or moment.second)
    if not with_time:
        return moment.date().isoformat()
    return moment.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


# ----------------------------------------------------------------- amounts
CURRENCY_SYMBOLS = {"€": "EUR", "$": "USD", "£": "GBP", "¥": "JPY", "₹": "INR", "CHF": "CHF", "kr": "SEK", "R$": "BRL"}
_CODE = re.compile(r"\b([A-Z]{3})\b")
_AMOUNT_JUNK = re.compile(r"[^\d,.\-+()]")
_SCALE = {"k": 1e3, "m": 1e6, "mm": 1e6, "bn": 1e9, "b": 1e9}


def parse_amount(value: Any) -> tuple[float | None, str | None]:
    """A number from ``1234.5``, ``"$1,234.50"``, ``"1.234,50 €"``, ``"(300)"``, ``"12k"``; and the currency it names."""
    if value is None:
        return None, None
    if isinstance(value, bool):
        raise BadValue(f"not an amount: {value!r}")
    if isinstance(value, (int, float)):
        if value != value:
            return None, None
        return float(value), None
    raw = " ".join(str(value).split())
    if not raw:
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


def parse_percent(value: Any) -> float | None:
    """``"12.5%"`` and ``12.5`` are 12.5; a spreadsheet's percentage cell (``0.125``) too."""
    if isinstance(value, str) and "%" in value:
        number, _ = parse_amount(value.replace("%", ""))
        return number
    number, _ = parse_amount(value)
    if number is not None and 0 < number < 1 and not isinstance(value, str):
        return round(number * 100, 6)  # a percentage cell holds a fraction
    return number


def parse_currency(value: Any) -> str | None:
    """An ISO 4217 code from ``"eur"`` or a symbol such as ``"€"``."""
    if value is None:
        return None
    raw = str(value).strip()
    if not raw:
        return None
    if raw in CURRENCY_SYMBOLS:
        return CURRENCY_SYMBOLS[raw]
    if len(raw) == 3 and raw.isalpha():
        return raw.upper()
    raise BadValue(f"not a currency code: {raw!r}")
