"""Satisfaction surveys alone: `CRM_DB=crm.db panel serve dashboards/surveys.py`."""

from _page import module_page

module_page("surveys").servable()
