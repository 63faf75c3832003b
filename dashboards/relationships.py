"""Relationship map alone: `CRM_DB=crm.db panel serve dashboards/relationships.py`."""

from _page import module_page

module_page("relationships").servable()
