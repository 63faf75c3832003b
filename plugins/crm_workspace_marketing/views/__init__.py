"""The Marketing page: Segments, Campaigns, Forms and Analytics tabs (read-only for viewers)."""

from __future__ import annotations

import panel as pn
import param

from crm_workspace import Workspace
from crm_workspace.web.deferred import lazy_tabs

from ..model import MarketingModel
from .analytics import AnalyticsTab
from .campaigns import CampaignsTab
from .forms import FormsTab
from .segments import SegmentsTab


class MarketingPage(pn.viewable.Viewer):
    workspace = param.ClassSelector(class_=Workspace)

    def __init__(self, **params):
        super().__init__(**params)
        self.model = MarketingModel(workspace=self.workspace)

    def __panel__(self):
        note = " (read only)" if self.workspace.read_only else ""
        # a tab is built on its first visit (crm_workspace/web/deferred.py): the page opens on Segments alone
        tabs = lazy_tabs(
            ("Segments", lambda: SegmentsTab(model=self.model)),
            ("Campaigns", lambda: CampaignsTab(model=self.model)),
            ("Forms", lambda: FormsTab(model=self.model)),
            ("Analytics", lambda: AnalyticsTab(model=self.model)),
            sizing_mode="stretch_width",
        )
        return pn.Column(f"## Marketing{note}", tabs, sizing_mode="stretch_width")
