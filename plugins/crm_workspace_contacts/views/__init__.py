"""Contacts & organizations pages (Panel): lists, record pages, forms, tasks, duplicates.

One module per page or part of a page; the state lives in the model layer
(state.py, drafts.py) and the SQL in queries.py, records.py and merge.py, never
here. Every piece of user text that becomes HTML goes through ``html.escape``.
"""

from __future__ import annotations

from .activities import ActivityLogger, MyTasks
from .contact_list import ContactListView
from .contacts_page import ContactsPage
from .duplicates import DuplicatesPage, MergeCard
from .forms import RecordForm
from .organizations import OrganizationsPage
from .record import ContactRecord, OrganizationRecord, timeline_html

__all__ = [
    "ActivityLogger",
    "ContactListView",
    "ContactRecord",
    "ContactsPage",
    "DuplicatesPage",
    "MergeCard",
    "MyTasks",
    "OrganizationRecord",
    "OrganizationsPage",
    "RecordForm",
    "timeline_html",
]
