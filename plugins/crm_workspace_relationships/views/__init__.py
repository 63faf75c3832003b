"""The relationship pages (Panel): the map page and the relationship editor of a contact.

``page`` lays the Relationships page out; ``map`` draws the network and the side panel;
``path``, ``analysis`` and ``org_chart`` are its other parts; ``editor`` and ``picker`` are
shared with the contact page. State lives in ``..model``, SQL in ``..queries``.
"""

from __future__ import annotations

from .analysis import AnalysisView
from .editor import RelationshipEditor
from .figure import MAP_NAME, PALETTE, map_figure
from .map import MapView, SidePanel
from .org_chart import ORG_CHART_NAME, OrgChartView, org_chart_figure, org_chart_html
from .page import RelationshipMap
from .path import PathFinder
from .picker import NodePicker

__all__ = [
    "MAP_NAME",
    "ORG_CHART_NAME",
    "PALETTE",
    "AnalysisView",
    "MapView",
    "NodePicker",
    "OrgChartView",
    "PathFinder",
    "RelationshipEditor",
    "RelationshipMap",
    "SidePanel",
    "map_figure",
    "org_chart_figure",
    "org_chart_html",
]
