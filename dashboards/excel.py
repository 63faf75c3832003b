"""Excel import and export alone: `CRM_DB=crm.db panel serve dashboards/excel.py`."""

from _page import module_page

module_page("excel").servable()
