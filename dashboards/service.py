"""Service desk alone: `CRM_DB=crm.db panel serve dashboards/service.py`."""

from _page import module_page

module_page("service").servable()
