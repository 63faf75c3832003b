"""Lifecycle tracker alone: `CRM_DB=crm.db panel serve dashboards/lifecycle.py`."""

from _page import module_page

module_page("lifecycle").servable()
