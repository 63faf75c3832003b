"""The contacts model in one import: lists (queries.py), record data (records.py), page state.

``from crm_workspace_contacts import model`` keeps working for notebooks, scripts and
the data views; the parts live in their own modules by what they do.
"""

from __future__ import annotations

from typing import Any

import param

from crm_workspace import Workspace

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
    mark_done,
    merged_ids,
    my_tasks,
    organization_of,
    people_of,
    related_people,
    tags_of,
    timeline,
)

__all__ = [
    "ACTIVITY_ICONS",
    "CONTACT_COLUMNS",
    "CONTACT_SORTS",
    "COUNT_CAP",
    "LAST_TOUCHED",
    "ORG_COLUMNS",
    "ORG_SORTS",
    "PAGE_SIZE",
    "ContactListModel",
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


class ContactListModel(param.Parameterized):
    """The contact list's state: filters, sort and page (a view binds widgets to it)."""

    workspace = param.ClassSelector(class_=Workspace)
    search = param.String(default="")
    stakeholder_type = param.String(default="")
    lifecycle_stage = param.String(default="")
    owner = param.String(default="")
    organization_id = param.Integer(default=None, allow_None=True)
    tag = param.String(default="")
    touched_after = param.String(default="")
    touched_before = param.String(default="")
    sort = param.String(default="")
    descending = param.Boolean(default=False)
    page = param.Integer(default=0, bounds=(0, None))

    def filters(self) -> dict[str, Any]:
        names = (
            "search",
            "stakeholder_type",
            "lifecycle_stage",
            "owner",
            "organization_id",
            "tag",
            "touched_after",
            "touched_before",
        )
        return {name: getattr(self, name) for name in names if getattr(self, name) not in (None, "")}

    def rows(self) -> list[dict]:
        return list_contacts(
            self.workspace,
            sort=self.sort or None,
            descending=self.descending,
            limit=PAGE_SIZE,
            offset=self.page * PAGE_SIZE,
            **self.filters(),
        )

    def count(self) -> int:
        return count_contacts(self.workspace, **self.filters())
