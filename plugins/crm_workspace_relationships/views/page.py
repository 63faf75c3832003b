"""The Relationships page: filters, the map and its side panel, the path finder, analysis, org charts."""

from __future__ import annotations

from typing import Any

import panel as pn
import param

from crm_workspace import CrmError, Workspace
from crm_workspace.web.deferred import lazy_card, lazy_tabs
from crm_workspace.web.pickers import RecordPicker

from ..model import AnalysisModel, MapModel, OrgChartModel
from .analysis import AnalysisView
from .common import notify_error, text
from .map import MapView, SidePanel
from .org_chart import OrgChartView
from .path import PathFinder
from .picker import NodePicker

ORG_CHART_TAB = 2


class RelationshipMap(pn.viewable.Viewer):
    """The page: one ``MapModel`` drives the filters, the map, the side panel and the path finder."""

    workspace = param.ClassSelector(class_=Workspace)
    model = param.ClassSelector(class_=MapModel)

    def __init__(self, **params: Any):
        super().__init__(**params)
        if self.model is None:
            self.model = MapModel(workspace=self.workspace, focus=self._asked_focus())
        m = self.model
        self.types = pn.widgets.MultiChoice.from_param(m.param.stakeholder_types, width=270)
        self.organization = RecordPicker.from_param(
            m.param.organization_id, choices=m.organization_choices, none_label="(all organizations)"
        )
        self.kinds = pn.widgets.MultiChoice.from_param(m.param.kinds, width=270)
        self.min_strength = pn.widgets.IntSlider.from_param(m.param.min_strength, width=270)
        self.hops = pn.widgets.IntSlider.from_param(m.param.hops, width=270)
        self.collapse = pn.widgets.Button(
            label="Show only the focus's neighbours", color="light", width=270, disabled=m.param.expanded.rx.not_()
        )
        self.collapse.on_click(lambda _event: m.collapse())
        self.find = NodePicker(search=m.search, label="Search the map")
        pn.bind(m.find, self.find.param.value, watch=True)
        self.path_finder = PathFinder(model=m)
        self.map = MapView(model=m)
        self.side = SidePanel(model=m, show_chart=self.show_chart)
        self.chart = OrgChartModel(workspace=self.workspace)
        self.status = pn.pane.Markdown(m.param.status.rx.pipe(text), sizing_mode="stretch_width")
        self.tabs: pn.Tabs | None = None
        self.workspace.param.watch(self._follow_link, "page_args")

    def _asked_focus(self) -> str | None:
        """The focus a link asked for (``?page=relationships&focus=contacts:12``), if it is on the map."""
        asked = (self.workspace.page_args or {}).get("focus")
        if not asked and pn.state.session_args.get("focus"):
            asked = pn.state.session_args["focus"][0].decode(errors="replace")
        if not asked:
            return None
        try:
            return MapModel.resolve(self.workspace, str(asked))
        except CrmError as error:
            notify_error(error)
            return None

    def _follow_link(self, event: param.parameterized.Event) -> None:
        """``workspace.open_page("relationships", focus="contacts:12")`` on an open page: move the map."""
        asked = (event.new or {}).get("focus")
        if asked and self.workspace.page == "relationships":
            try:
                self.model.focus_on(str(asked))
            except CrmError as error:
                notify_error(error)

    def show_chart(self, organization_id: int) -> None:
        """Open the org chart tab on this organization."""
        self.chart.organization_id = organization_id
        if self.tabs is not None:
            self.tabs.active = ORG_CHART_TAB

    def __panel__(self) -> pn.viewable.Viewable:
        filters = lazy_card(
            lambda: pn.FlexBox(self.types, self.organization, self.kinds, self.min_strength),
            title="Filters",
            sizing_mode="stretch_width",
        )
        toolbar = pn.FlexBox(pn.Column(self.find, width=320), self.hops, self.collapse, align_items="end")
        side = pn.Column(
            pn.Card(self.path_finder.controls(), title="How do I reach…", sizing_mode="stretch_width"),
            self.side,
            width=340,
            css_classes=["rel-side"],
        )
        map_tab = pn.Column(
            toolbar,
            filters,
            # side by side on a wide screen, the record under the map on a phone
            pn.FlexBox(
                pn.Column(
                    self.status, self.map, self.path_finder.listing, styles={"flex": "1 1 520px", "min-width": "0"}
                ),
                side,
                flex_wrap="wrap",
                sizing_mode="stretch_width",
            ),
            sizing_mode="stretch_width",
        )
        # Analysis and Org chart are built on their first visit (crm_workspace/web/deferred.py)
        self.tabs = lazy_tabs(
            ("Map", lambda: map_tab),
            ("Analysis", lambda: AnalysisView(model=AnalysisModel(workspace=self.workspace))),
            ("Org chart", lambda: OrgChartView(model=self.chart)),
            sizing_mode="stretch_width",
        )
        return pn.Column("## Stakeholder relationship map", self.tabs, sizing_mode="stretch_width")
