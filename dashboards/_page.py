"""Shared by the files in dashboards/ (``panel serve`` puts this folder on ``sys.path``).

Every file serves the workspace at ``$CRM_DB`` (else ./crm.db). A workspace whose
users have passwords is served with a login only by ``crm serve``: these files
then refuse to show data to a session ``panel serve`` did not authenticate as
one of its users.
"""

from __future__ import annotations

import panel as pn

from crm_workspace import Workspace
from crm_workspace.web import auth
from crm_workspace.web.app import error_card
from crm_workspace.web.session import base_workspace, configure, session_workspace
from crm_workspace.web.shell import frame

HEADER = "#1f4e79"


def login_refusal(path: str) -> pn.viewable.Viewable | None:
    """An error card when this workspace needs a login that ``panel serve`` did not ask for."""
    if not auth.login_required(path):
        return None
    user = pn.state.user
    if user and auth.may_log_in(path, user):
        return None
    return error_card(
        "Login required",
        "This workspace has users with passwords. Serve it with `crm serve`, which asks for a login; "
        "`panel serve` on these files does not.",
    )


def workspace() -> Workspace:
    """This session's workspace (extensions and error notifications configured)."""
    configure(base_workspace())
    return session_workspace()


def module_page(name: str) -> pn.template.BaseTemplate:
    """One module's page alone, in the app's template."""
    base = base_workspace()
    body = login_refusal(base.path)
    title = name
    if body is None:
        ws = workspace()
        page = next((p for p in ws.pages() if p.name == name), None)
        if page is None:
            body = error_card("No such module", f"no enabled module has a page named '{name}'")
        else:
            title, body = page.title, ws.dashboard(name)
    return frame(title=f"crm-workspace · {title}", main=[body])
