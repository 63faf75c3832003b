"""The Workspace a notebook holds: the core facade, plus its dashboards drawn inline.

``crm_workspace.Workspace`` is this class. It sits above the web shell, so the
core ``Workspace`` below knows no UI: a page or the whole app is asked of the
shell that draws it, and only when a notebook wants one.
"""

from __future__ import annotations

from typing import Any

from crm_workspace import workspace


class Workspace(workspace.Workspace):
    """A CRM workspace: one SQLite file and the plugins that work on it; its pages display inline."""

    def dashboard(self, name: str) -> Any:
        """The Panel object of one page (a module's, or the app's own); displays inline in Jupyter."""
        from crm_workspace.web.app import dashboard

        return dashboard(self, name)

    def app(self) -> Any:
        """The whole workspace app: a layout inline, a template when served."""
        from crm_workspace.web.app import app

        return app(self)
