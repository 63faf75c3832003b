"""No call site uses what Panel deprecates for 2.0: a widget's ``name`` (its ``label`` now) and a
button's ``button_type`` (``color``). Panel warns at each call (a PendingDeprecationWarning):
the suite's warnings summary stays about real problems, and Panel 2.0 finds nothing to break."""

from __future__ import annotations

import ast
import warnings

import panel as pn
from helpers import ROOT, shipped_sources

from crm_workspace import Workspace

#: keywords Panel 1.x deprecates on widgets and indicators, with what replaces them
DEPRECATED = {"name": "label", "button_type": "color", "button_style": "variant"}
PANEL_DEPRECATION = r".*deprecated and will be removed in version 2\.0.*"


def deprecated_calls(source: str) -> list[tuple[int, str, str]]:
    """``pn.widgets.X(...)`` / ``pn.indicators.X(...)`` (``from_param`` too) calls with a deprecated keyword."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            called = ast.unparse(node.func)
            if called.startswith(("pn.widgets.", "pn.indicators.", "widgets.")):
                found += [(node.lineno, called, k.arg) for k in node.keywords if k.arg in DEPRECATED]
    return found


def test_no_widget_is_made_with_a_deprecated_keyword():
    problems = [
        f"{path.relative_to(ROOT)}:{line}: {called}({keyword}=...) -> {DEPRECATED[keyword]}="
        for path, source in shipped_sources()
        for line, called, keyword in deprecated_calls(source)
    ]
    assert not problems, "Panel deprecates these (2.0 removes them):\n  " + "\n  ".join(problems)
    assert deprecated_calls("pn.widgets.Button(name='x', button_type='primary')") == [
        (1, "pn.widgets.Button", "name"),
        (1, "pn.widgets.Button", "button_type"),
    ]


def test_the_marketing_screens_build_without_panel_deprecation_warnings(demo_db):
    from crm_workspace_marketing.model import MarketingModel
    from crm_workspace_marketing.sequences.views import SequencesPage
    from crm_workspace_marketing.views.campaigns import CampaignsTab
    from crm_workspace_marketing.views.forms import FormsTab
    from crm_workspace_marketing.views.segments import SegmentsTab

    ws = Workspace.open(demo_db, user="ana")
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("error", message=PANEL_DEPRECATION)
            model = MarketingModel(workspace=ws)
            for tab in (SegmentsTab(model=model), CampaignsTab(model=model), FormsTab(model=model)):
                layout = tab.__panel__()
                for card in layout.select(pn.Card):  # a collapsed card's content is built when opened (lazy_card)
                    card.collapsed = False
                pn.panel(layout).get_root()
            page = SequencesPage(workspace=ws)
            pn.panel(page).get_root()
            assert page.save.label == "Save sequence" and page.save.color == "primary"
    finally:
        ws.close()
