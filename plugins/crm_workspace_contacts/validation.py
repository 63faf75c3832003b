"""Record rules for contacts and organizations: email and phone by the shared field rules, required names."""

from __future__ import annotations

from typing import Any

from crm_workspace.data import checks, fields


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def validate(workspace: Any, table: str, record: dict, before: dict | None) -> dict[str, str] | None:
    if table not in ("contacts", "organizations"):
        return None
    errors: dict[str, str] = {}
    checks.max_length(record, errors)
    if not _blank(record.get("email")):
        try:
            record["email"] = fields.normalize_email(str(record["email"]))
        except fields.BadValue as error:
            errors["email"] = f"not a valid email address: {error.reason or error}"
    elif "email" in record:
        record["email"] = None
    phone = record.get("phone")
    if not _blank(phone):
        # what an import normalized is E.164 already: recognised without parsing it again
        if not (phone.__class__ is str and fields.is_e164(phone)):
            try:
                record["phone"] = fields.normalize_phone(phone, fields.phone_region(workspace))
            except fields.BadValue as error:
                errors["phone"] = str(error)
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
            except (TypeError, ValueError, OverflowError):
                errors["organization_id"] = f"not an organization id: {org!r}"
            else:
                # an id beyond SQLite's integers names no row (and cannot be bound in a query)
                in_range = -(2**63) <= org < 2**63
                if not in_range or not workspace.store.query("SELECT 1 FROM organizations WHERE id = ?", [org]):
                    errors["organization_id"] = f"organization #{org} does not exist"
        elif "organization_id" in record:
            record["organization_id"] = None
    else:
        if "domain" in record and not _blank(record["domain"]):
            record["domain"] = str(record["domain"]).strip().lower()
    return errors or None
