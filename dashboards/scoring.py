"""Lead scores alone: `CRM_DB=crm.db panel serve dashboards/scoring.py`."""

from _page import module_page

module_page("scoring").servable()
