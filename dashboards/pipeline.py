"""Pipeline board alone: `CRM_DB=crm.db panel serve dashboards/pipeline.py`."""

from _page import module_page

module_page("pipeline").servable()
