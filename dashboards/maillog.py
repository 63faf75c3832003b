"""Mail log alone: `CRM_DB=crm.db panel serve dashboards/maillog.py`."""

from _page import module_page

module_page("maillog").servable()
