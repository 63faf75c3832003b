"""The app's light frame (crm_workspace/web/shell.py): no FAST scripts, one browser component, shared KPIs."""

from __future__ import annotations

import panel as pn

from crm_workspace import Workspace
from crm_workspace.web import app as app_module
from crm_workspace.web.shell import FrameScript, OfflineFast, ShellTemplate


def test_the_design_loads_no_script_and_ships_its_tokens():
    resources = OfflineFast().resolve_resources()
    assert not any("fast-components" in url or "fast_design" in url for url in resources["js_modules"].values())
    assert not resources.get("font")
    template = ShellTemplate(main=[pn.pane.Markdown("x")])
    css = "\n".join(template.config.raw_css)
    assert "--accent-fill-rest" in css and "--neutral-foreground-rest" in css  # the Fast look, as static values
    assert "#sidebar.hidden" in css  # the menu behind its button on a phone


def test_the_frame_has_the_ids_the_phone_css_and_tests_use():
    html = ShellTemplate._template.read_text(encoding="utf-8")
    for needle in ('id="header"', 'id="sidebar-button"', 'id="sidebar"', 'id="main"', "function closeNav"):
        assert needle in html
    assert "fast-" not in html and "block state_roots" in html  # no web components; notifications etc. kept


def test_one_component_routes_marks_ready_and_closes_the_menu():
    esm = FrameScript._esm
    for part in ("pushState", "crm-ready", "closeNav"):
        assert part in esm
    assert esm.count("export function render(") == 1


def test_home_kpis_are_shared_until_the_data_changes(demo_workspace: Workspace):
    app_module.METRICS.clear()
    first = app_module.shared_metrics(demo_workspace)
    assert app_module.shared_metrics(demo_workspace.as_user(demo_workspace.user)) is first  # another session
    contact = demo_workspace.store.query("SELECT id, first_name FROM contacts ORDER BY id LIMIT 1")[0]
    demo_workspace.store.update("contacts", contact["id"], {"first_name": "Renamed"})
    assert app_module.shared_metrics(demo_workspace) is not first  # a write: computed again


def test_the_duplicates_page_draws_a_screenful_of_pairs_then_the_rest_on_request(demo_workspace: Workspace):
    from crm_workspace_contacts.views import DuplicatesPage
    from crm_workspace_contacts.views.duplicates import PAIRS_SHOWN

    page = DuplicatesPage(workspace=demo_workspace)
    pair = {"a": 1, "b": 2, "a_name": "A", "b_name": "B", "organization": "", "reason": "same email", "score": 90.0}
    page.model.pairs = lambda limit=100: [dict(pair, a=i) for i in range(PAIRS_SHOWN + 5)]
    shown, more = page._pairs().objects
    assert len(shown.objects) == PAIRS_SHOWN and more.label == "Show 5 more"
    more.clicks += 1
    assert len(shown.objects) == PAIRS_SHOWN + 5 and not more.visible


def test_pages_load_no_math_typesetting_and_no_webgl(served_demo):
    """Bokeh's MathJax bundle (1.8 MB evaluated on every page load) stays out: nothing here shows math,
    and with it loaded, TeX-like text a customer typed would be typeset. Its WebGL bundle too: no chart
    here draws with WebGL."""
    import urllib.request

    with urllib.request.urlopen(served_demo.url + "?page=contacts", timeout=60) as response:
        html = response.read().decode()
    assert "bokeh-widgets" in html and "bokeh-mathjax" not in html and "bokeh-gl" not in html
