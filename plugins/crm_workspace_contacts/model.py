"""The contacts model in one import: queries, records, page state and drafts.

Lists live in queries.py, one record's data in records.py, the pages' state in
state.py and edits in progress in drafts.py; ``from crm_workspace_contacts import
model`` keeps working for notebooks, scripts and the data views.
"""

from __future__ import annotations

from .drafts import ActivityDraft, ContactDraft, MergeReview, OrganizationDraft, RecordDraft
from .queries import (
    CONTACT_COLUMNS,
    CONTACT_SORTS,
    COUNT_CAP,
    LAST_TOUCHED,
    ORG_COLUMNS,
    ORG_SORTS,
    PAGE_SIZE,
    active_users,
    all_tags,
    contact_filters,
    count_contacts,
    count_organizations,
    industries,
    list_contacts,
    list_organizations,
    org_filters,
    organization_name,
)
from .records import (
    ACTIVITY_ICONS,
    consent_fields,
    deals_of,
    default_channel,
    function_of,
    lifecycle_history,
    log_activity,
    mark_all_done,
    mark_done,
    merged_ids,
    my_tasks,
    organization_of,
    people_of,
    related_people,
    tags_of,
    timeline,
)
from .state import ContactListModel, DuplicatesModel, OrganizationListModel, RecordModel

__all__ = [
    "ACTIVITY_ICONS",
    "CONTACT_COLUMNS",
    "CONTACT_SORTS",
    "COUNT_CAP",
    "LAST_TOUCHED",
    "ORG_COLUMNS",
    "ORG_SORTS",
    "PAGE_SIZE",
    "ActivityDraft",
    "ContactDraft",
    "ContactListModel",
    "DuplicatesModel",
    "MergeReview",
    "OrganizationDraft",
    "OrganizationListModel",
    "RecordDraft",
    "RecordModel",
    "active_users",
    "all_tags",
    "consent_fields",
    "contact_filters",
    "count_contacts",
    "count_organizations",
    "deals_of",
    "default_channel",
    "function_of",
    "industries",
    "lifecycle_history",
    "list_contacts",
    "list_organizations",
    "log_activity",
    "mark_all_done",
    "mark_done",
    "merged_ids",
    "my_tasks",
    "org_filters",
    "organization_name",
    "organization_of",
    "people_of",
    "related_people",
    "tags_of",
    "timeline",
]
