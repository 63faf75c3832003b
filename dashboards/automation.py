"""Automation alone (workflow rules, webhooks): `CRM_DB=crm.db panel serve dashboards/automation.py`."""

from _page import module_page

module_page("automation").servable()
