"""Knowledge base alone: `CRM_DB=crm.db panel serve dashboards/knowledge.py`."""

from _page import module_page

module_page("knowledge").servable()
