"""Marketing alone: `CRM_DB=crm.db panel serve dashboards/marketing.py`."""

from _page import module_page

module_page("marketing").servable()
