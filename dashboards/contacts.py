"""Contacts alone: `CRM_DB=crm.db panel serve dashboards/contacts.py`."""

from _page import module_page

module_page("contacts").servable()
