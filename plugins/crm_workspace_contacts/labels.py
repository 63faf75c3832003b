"""How the contact and organization screens name fields and show stored words: one list for the
record's details, the timeline's edit entries and anything else that names a column to a person."""

from __future__ import annotations

from typing import Any

from crm_workspace.web.display import day, is_day, label, number

#: column -> the label a person reads; a column not listed (one another module added) reads "Lead score"
FIELD_LABELS = {
    "contacts": {
        "first_name": "First name",
        "last_name": "Last name",
        "email": "Email",
        "phone": "Phone",
        "title": "Title",
        "organization_id": "Organization",
        "stakeholder_type": "Stakeholder type",
        "lifecycle_stage": "Lifecycle stage",
        "source": "Source",
        "notes": "Notes",
        "owner": "Owner",
        "marketing_consent": "Marketing consent",
        "consent_at": "Consent changed",
        "consent_source": "Consent source",
    },
    "organizations": {
        "name": "Name",
        "domain": "Domain",
        "industry": "Industry",
        "city": "City",
        "country": "Country",
        "phone": "Phone",
        "website": "Website",
        "owner": "Owner",
    },
}
#: the bookkeeping columns a person never needs to read about
INTERNAL = frozenset({"id", "version", "created_at", "updated_at", "updated_by"})
#: columns holding a stored word ("marketing_qualified") shown in words ("Marketing qualified")
WORDS = frozenset({"stakeholder_type", "lifecycle_stage"})
#: columns holding yes (1) or no (0)
FLAGS = frozenset({"marketing_consent"})


def field_label(table: str, column: str) -> str:
    """The label of a column on the record screens: "First name", never "first_name"."""
    return FIELD_LABELS.get(table, {}).get(column) or label(column)


def value_text(column: str, value: Any) -> str:
    """A stored value as plain text for a person: words humanised, yes/no, numbers separated, "—" for none.

    A date reads "30 Nov 2026"; a time stays ISO text, so a screen shows it humanised with the exact
    time on hover (``times_html``).
    """
    if value is None or value == "":
        return "—"
    if column in WORDS:
        return label(value)
    if column in FLAGS:
        return {1: "Yes", 0: "No", "1": "Yes", "0": "No"}.get(value, str(value))
    if is_day(value):
        return day(value)
    return number(value) if isinstance(value, int | float) else str(value)
