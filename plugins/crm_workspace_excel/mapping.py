"""Which column goes to which field: the importable fields and the header guesser."""

from __future__ import annotations

import re
from typing import Any

ENTITIES = ("contacts", "organizations", "deals")
#: Mapping target that keeps a column as a custom field (stored in excel_custom_fields, named by its header).
CUSTOM = "custom"
#: Columns no spreadsheet sets: ids (linked by name instead) and the store's bookkeeping.
SYSTEM_COLUMNS = frozenset({"id", "organization_id", "contact_id", "updated_at", "updated_by", "version"})

#: Fields a person may map a column to, per entity, and the kind of value each holds.
#: ``organization``/``contact``/``full_name`` are virtual: resolved to ids or split.
FIELDS: dict[str, dict[str, str]] = {
    "contacts": {
        "first_name": "text",
        "last_name": "text",
        "full_name": "full_name",
        "email": "email",
        "phone": "phone",
        "title": "text",
        "organization": "organization",
        "stakeholder_type": "stakeholder_type",
        "lifecycle_stage": "lifecycle_stage",
        "source": "text",
        "notes": "text",
        "owner": "text",
        "created_at": "date",
    },
    "organizations": {
        "name": "text",
        "domain": "domain",
        "industry": "text",
        "city": "text",
        "country": "text",
        "phone": "phone",
        "website": "text",
        "owner": "text",
        "created_at": "date",
    },
    "deals": {
        "title": "text",
        "organization": "organization",
        "contact": "contact",
        "stage": "stage",
        "amount": "amount",
        "currency": "currency",
        "probability": "percent",
        "expected_close": "date",
        "status": "status",
        "lost_reason": "text",
        "closed_at": "date",
        "source": "text",
        "owner": "text",
        "created_at": "date",
    },
}

#: Headers of common CRM exports (HubSpot, Salesforce, Pipedrive, Zoho) and hand-kept sheets.
ALIASES: dict[str, dict[str, list[str]]] = {
    "contacts": {
        "first_name": [
            "First Name",
            "First",
            "Given Name",
            "Forename",
            "Vorname",
            "Prénom",
            "Person - First name",
            "FirstName",
        ],
        "last_name": [
            "Last Name",
            "Last",
            "Surname",
            "Family Name",
            "Nachname",
            "Nom",
            "Person - Last name",
            "LastName",
        ],
        "full_name": [
            "Name",
            "Full Name",
            "Contact Name",
            "Contact",
            "Person - Name",
            "Person Name",
            "Contact Full Name",
        ],
        "email": [
            "Email",
            "E-mail",
            "Email Address",
            "E-mail Address",
            "Mail",
            "Person - Email",
            "Primary Email",
            "Work Email",
            "Business Email",
            "Email 1",
            "Contact Email",
        ],
        "phone": [
            "Phone",
            "Phone Number",
            "Telephone",
            "Tel",
            "Mobile",
            "Mobile Phone",
            "Cell",
            "Business Phone",
            "Work Phone",
            "Person - Phone",
            "Direct Line",
            "Phone 1",
        ],
        "title": ["Title", "Job Title", "Position", "Role", "Job", "Designation", "Person - Job title"],
        "organization": [
            "Company",
            "Company Name",
            "Account",
            "Account Name",
            "Organization",
            "Organisation",
            "Organization - Name",
            "Organization Name",
            "Employer",
            "Firm",
            "Associated Company",
            "Person - Organization",
            "Firma",
        ],
        "stakeholder_type": ["Stakeholder Type", "Type", "Contact Type", "Category", "Relationship"],
        "lifecycle_stage": ["Lifecycle Stage", "Lifecycle", "Stage", "Lead Status", "Status", "Funnel Stage"],
        "source": ["Source", "Lead Source", "Original Source", "Channel"],
        "notes": ["Notes", "Note", "Comments", "Comment", "Description", "Remarks"],
        "owner": ["Owner", "Contact Owner", "Account Owner", "Person - Owner", "Assigned To", "Sales Rep"],
        "created_at": ["Created", "Created At", "Create Date", "Created Date", "Date Added", "Person - Add time"],
    },
    "organizations": {
        "name": [
            "Name",
            "Company",
            "Company Name",
            "Account Name",
            "Organization",
            "Organisation",
            "Organization - Name",
            "Organization Name",
            "Account",
        ],
        "domain": ["Domain", "Company Domain Name", "Email Domain"],
        "industry": ["Industry", "Sector", "Vertical", "Organization - Industry"],
        "city": ["City", "Town", "Billing City", "Organization - City"],
        "country": ["Country", "Country/Region", "Billing Country", "Organization - Country"],
        "phone": ["Phone", "Phone Number", "Telephone", "Main Phone", "Company Phone"],
        "website": ["Website", "Web Site", "URL", "Homepage", "Website URL"],
        "owner": ["Owner", "Account Owner", "Company Owner", "Organization - Owner"],
        "created_at": ["Created", "Created At", "Create Date", "Created Date"],
    },
    "deals": {
        "title": ["Title", "Deal", "Deal Name", "Deal - Title", "Opportunity", "Opportunity Name", "Name", "Subject"],
        "organization": [
            "Company",
            "Company Name",
            "Account",
            "Account Name",
            "Organization",
            "Organisation",
            "Organization - Name",
            "Deal - Organization",
            "Associated Company",
        ],
        "contact": [
            "Contact",
            "Contact Name",
            "Contact Email",
            "Person",
            "Person - Name",
            "Deal - Contact person",
            "Primary Contact",
            "Email",
        ],
        "stage": ["Stage", "Deal Stage", "Deal - Stage", "Pipeline Stage", "Opportunity Stage"],
        "amount": [
            "Amount",
            "Value",
            "Deal Value",
            "Deal - Value",
            "Deal Amount",
            "Revenue",
            "Opportunity Amount",
            "Total",
            "Price",
        ],
        "currency": ["Currency", "Deal - Currency", "Currency Code", "Amount Currency"],
        "probability": ["Probability", "Probability (%)", "Win Probability", "Deal - Probability", "Chance"],
        "expected_close": [
            "Expected Close",
            "Expected Close Date",
            "Close Date",
            "Closing Date",
            "Deal - Expected close date",
            "Target Date",
        ],
        "status": ["Status", "Deal - Status", "Won/Lost", "Outcome"],
        "lost_reason": ["Lost Reason", "Deal - Lost reason", "Reason Lost", "Closed Lost Reason"],
        "closed_at": ["Closed At", "Closed", "Close Time", "Deal - Won time", "Won Time", "Closed Date"],
        "source": ["Source", "Lead Source", "Deal Source"],
        "owner": ["Owner", "Deal Owner", "Opportunity Owner", "Deal - Owner", "Assigned To", "Sales Rep"],
        "created_at": ["Created", "Created At", "Create Date", "Deal - Deal created", "Created Date"],
    },
}


def added_columns(workspace, entity: str) -> list[str]:
    """Columns of ``entity`` that plugins added (importable as text), beyond ``FIELDS``."""
    return [c for c in workspace.store.columns(entity) if c not in FIELDS[entity] and c not in SYSTEM_COLUMNS]


def importable_fields(workspace, entity: str) -> list[str]:
    """Every field a column of an ``entity`` sheet may be mapped to."""
    return [*FIELDS[entity], *added_columns(workspace, entity), CUSTOM]


def key(header: str) -> str:
    """Headers match ignoring case, spaces and punctuation."""
    return re.sub(r"[^0-9a-z]+", "", header.casefold())


def merged_aliases(entity: str, plugin_aliases: dict[str, dict[str, list[str]]] | None) -> dict[str, str]:
    """``{normalized alias: field}`` for ``entity``: field names themselves, ours, then every plugin's."""
    table: dict[str, str] = {}
    for name in FIELDS[entity]:
        table.setdefault(key(name), name)
    for source in (plugin_aliases or {}, ALIASES):
        for name, names in source.get(entity, {}).items():
            for alias in names:
                table.setdefault(key(alias), name)
    return table


def guess(
    headers: list[str], entity: str, plugin_aliases: dict | None = None, extra_fields: list[str] = ()
) -> dict[str, str | None]:
    """``{header: field or None}``: exact alias first, then fuzzy; each field used once."""
    from rapidfuzz import fuzz, process

    fields = set(FIELDS[entity]) | set(extra_fields)
    aliases = {k: v for k, v in merged_aliases(entity, plugin_aliases).items() if v in fields}
    for name in extra_fields:
        aliases.setdefault(key(name), name)
    result: dict[str, str | None] = dict.fromkeys(headers)
    taken: set[str] = set()
    for header in headers:
        found = aliases.get(key(header))
        if found and found not in taken:
            result[header] = found
            taken.add(found)
    choices = list(aliases)
    for header in headers:
        if result[header] is not None or not key(header):
            continue
        match = process.extractOne(key(header), choices, scorer=fuzz.ratio, score_cutoff=84)
        if match and aliases[match[0]] not in taken:
            result[header] = aliases[match[0]]
            taken.add(result[header])
    if "full_name" in taken and {"first_name", "last_name"} <= taken:
        for header, name in result.items():
            if name == "full_name":
                result[header] = None
    return result


def parse_map_options(
    options: tuple[str, ...] | list[str], headers: list[str], entity: str, extra_fields: list[str] = ()
) -> dict[str, str | None]:
    """``HEADER=field`` options (``HEADER=`` or ``HEADER=-`` skips a column) → overrides, checked."""
    fields = set(FIELDS[entity]) | set(extra_fields) | {CUSTOM}
    by_key = {key(h): h for h in headers}
    overrides: dict[str, str | None] = {}
    from crm_workspace import CrmError

    for option in options:
        if "=" not in option:
            raise CrmError(f"--map expects HEADER=field, not {option!r}")
        header, _, target = option.rpartition("=")
        header, target = header.strip(), target.strip()
        actual = header if header in headers else by_key.get(key(header))
        if actual is None:
            raise CrmError(f"--map {option!r}: no column named {header!r} (columns: {', '.join(headers)})")
        if target in ("", "-", "skip"):
            overrides[actual] = None
        elif target in fields:
            overrides[actual] = target
        else:
            raise CrmError(f"--map {option!r}: {entity} have no field {target!r} (fields: {', '.join(sorted(fields))})")
    return overrides


def describe(mapping: dict[str, Any]) -> str:
    return ", ".join(f"{h} → {f}" for h, f in mapping.items() if f)
