"""The whole workspace, as `crm serve` shows it: `CRM_DB=crm.db panel serve dashboards/app.py`."""

from _page import login_refusal

from crm_workspace.web.session import base_workspace, configure, session_app

refusal = login_refusal(base_workspace().path)
if refusal is not None:
    refusal.servable(title="crm-workspace")
else:
    configure(base_workspace())
    session_app().servable(title="crm-workspace")
