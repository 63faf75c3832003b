"""Nurture sequences alone: `CRM_DB=crm.db panel serve dashboards/sequences.py`."""

from _page import module_page

module_page("sequences").servable()
