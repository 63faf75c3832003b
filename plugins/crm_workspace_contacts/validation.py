"""Field rules for contacts and organizations: email syntax, phones in E.164, required names."""

from __future__ import annotations

import re
from typing import Any

DEFAULT_REGION = "DE"

# Plain ASCII addresses that email-validator always accepts unchanged (apart from case):
# checked by this regex in ~1 µs instead of ~50 µs, so bulk imports stay fast. Anything
# else (Unicode, quoted parts, punycode or any label with "--" third and fourth, special-use
# domains) goes to email-validator.
_SIMPLE_EMAIL = re.compile(
    r"(?=.{6,254}$)(?=[^@]{1,64}@)[a-z0-9_%+-]+(?:\.[a-z0-9_%+-]+)*"
    r"@(?:(?!-)(?![a-z0-9]{2}--)[a-z0-9-]{1,63}(?<!-)\.)+(?!(?:arpa|invalid|local|localhost|onion|test)$)[a-z]{2,63}",
    re.IGNORECASE,
)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def normalize_email(value: str) -> str:
    """The email in lower case, or ValueError with a message a person can act on (syntax only, no DNS)."""
    text = value.strip()
    if _SIMPLE_EMAIL.fullmatch(text):
        lowered = text.lower()
        return text if lowered == text else lowered  # the same object when unchanged: imports hold 100ks
    from email_validator import EmailNotValidError, validate_email

    try:
        result = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as error:
        raise ValueError(str(error)) from error
    return result.normalized.lower()


def normalize_phone(value: str, region: str = DEFAULT_REGION) -> str:
    """The number in E.164 (``+4915112345678``), or the original text if it cannot be parsed."""
    import phonenumbers

    text = value.strip()
    try:
        number = phonenumbers.parse(text, region or None)
    except phonenumbers.NumberParseException:
        return text
    if not phonenumbers.is_possible_number(number):
        return text
    formatted = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return text if formatted == text else formatted


def validate(workspace: Any, table: str, record: dict, before: dict | None) -> dict[str, str] | None:
    if table not in ("contacts", "organizations"):
        return None
    errors: dict[str, str] = {}
    if not _blank(record.get("email")):
        try:
            record["email"] = normalize_email(str(record["email"]))
        except ValueError as error:
            errors["email"] = f"not a valid email address: {error}"
    elif "email" in record:
        record["email"] = None
    if not _blank(record.get("phone")):
        region = workspace.setting("default_phone_region", DEFAULT_REGION)
        record["phone"] = normalize_phone(str(record["phone"]), region)
    elif "phone" in record:
        record["phone"] = None
    if table == "contacts":
        if before is not None and ("first_name" in record or "last_name" in record):
            merged = {**before, **record}
            if _blank(merged.get("first_name")) and _blank(merged.get("last_name")):
                errors["last_name"] = "a contact needs a first or last name"
        org = record.get("organization_id")
        if not _blank(org):
            try:
                org = record["organization_id"] = int(org)
            except (TypeError, ValueError):
                errors["organization_id"] = f"not an organization id: {org!r}"
            else:
                if not workspace.store.query("SELECT 1 FROM organizations WHERE id = ?", [org]):
                    errors["organization_id"] = f"organization #{org} does not exist"
        elif "organization_id" in record:
            record["organization_id"] = None
    else:
        if "domain" in record and not _blank(record["domain"]):
            record["domain"] = str(record["domain"]).strip().lower()
    return errors or None
