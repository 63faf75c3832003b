"""Calendar alone: `CRM_DB=crm.db panel serve dashboards/calendar.py`."""

from _page import module_page

module_page("calendar").servable()
