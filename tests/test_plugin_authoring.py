"""A plugin written in a notebook cell: what works, and the clear errors when it is wrong."""

from __future__ import annotations

import pytest

from crm_workspace import Metric, Page, PluginError, Workspace, hookimpl
from crm_workspace.testing import assert_no_plugin_errors, make_workspace, page_text, registered


class Scores:
    @hookimpl
    def crm_dashboards(self, workspace):
        def view(ws):
            import panel as pn

            return pn.Column(
                "## Scores", pn.pane.Markdown(f"{ws.store.scalar('SELECT count(*) FROM contacts')} contacts")
            )

        return [Page("scores", "Scores", view)]

    @hookimpl
    def crm_metrics(self, workspace):
        sql = "SELECT count(*) FROM contacts"
        return [Metric("scored", "Scored", workspace.store.scalar(sql), sql=sql)]

    @hookimpl
    def crm_data_views(self, workspace):
        def top(limit=3):
            """The first contacts, by id."""
            return workspace.df("SELECT id FROM contacts ORDER BY id LIMIT :limit", limit=limit)

        return {"scores.top": top}


@pytest.fixture
def ws(tmp_path) -> Workspace:
    workspace = make_workspace(tmp_path / "crm.db", demo=True, contacts=30)
    yield workspace
    workspace.close()


def test_a_notebook_plugin_adds_a_page_a_metric_and_a_view(ws: Workspace):
    with registered(ws, Scores(), name="scores"):
        assert "scores" in [p.name for p in ws.pages()]
        assert "Scored" in [m.label for m in ws.metrics()]
        views = ws.views()
        assert views.loc[views["name"] == "scores.top", ["plugin", "description"]].values.tolist() == [
            ["scores", "The first contacts, by id."]
        ]
        assert ws.df("scores.top", limit=2)["id"].tolist() == [1, 2]
        assert "30 contacts" in page_text(ws.dashboard("scores"))
        assert_no_plugin_errors(ws)
    assert "scores" not in [p.name for p in ws.pages()]


def test_a_misspelled_hook_is_refused_naming_the_plugin(ws: Workspace):
    class Typo:
        @hookimpl
        def crm_dashbaords(self, workspace):
            return []

    with pytest.raises(PluginError) as error:
        ws.register(Typo(), name="typo-plugin")
    assert "typo-plugin" in str(error.value) and "crm_dashbaords" in str(error.value)
    assert "typo-plugin" not in [p.name for p in ws.plugins()]
    assert ws.dashboard("contacts") is not None  # the workspace keeps working


def test_a_hook_that_raises_is_reported_and_the_rest_keeps_working(ws: Workspace):
    class Broken:
        @hookimpl
        def crm_metrics(self, workspace):
            raise RuntimeError("scoring service down")

        @hookimpl
        def crm_dashboards(self, workspace):
            def view(ws):
                raise KeyError("score")

            return [Page("broken", "Broken", view)]

    before = {m.key for m in ws.metrics()}
    ws.register(Broken(), name="broken")
    assert {m.key for m in ws.metrics()} == before
    messages = [str(e) for e in ws.plugin_errors()]
    assert any("plugin 'broken' failed in crm_metrics" in m and "scoring service down" in m for m in messages)
    card = ws.dashboard("broken")
    assert "plugin 'broken'" in page_text(card) and "KeyError" in page_text(card)
    assert "contacts" in page_text(ws.dashboard("contacts")).lower()
    ws.unregister("broken")
    assert_no_plugin_errors(ws)


def test_a_duplicate_page_name_is_reported_and_the_first_keeps_it(ws: Workspace):
    class Copycat:
        @hookimpl
        def crm_dashboards(self, workspace):
            return [Page("contacts", "My contacts", lambda ws: "hijacked"), Page("mine", "Mine", lambda ws: "ok")]

    ws.register(Copycat(), name="copycat")
    pages = {p.name: p.plugin for p in ws.pages()}
    assert pages["contacts"] == "contacts"  # the built-in is not displaced
    assert pages["mine"] == "copycat"  # the plugin's other pages still work
    errors = [str(e) for e in ws.plugin_errors()]
    assert errors == [
        "plugin 'copycat' failed in crm_dashboards: ValueError: page name 'contacts' is already taken by 'contacts'"
    ]
    assert "hijacked" not in page_text(ws.dashboard("contacts"))


def test_home_shows_the_plugin_problem_by_name(ws: Workspace):
    class Broken:
        @hookimpl
        def crm_metrics(self, workspace):
            raise ValueError("bad SQL")

    ws.register(Broken(), name="broken-kpi")
    text = page_text(ws.app())
    assert "Plugin 'broken-kpi' has a problem" in text and "bad SQL" in text


def test_page_text_reads_tables_and_bound_functions():
    import pandas as pd
    import panel as pn

    frame = pd.DataFrame({"name": ["Ada"], "score": [42]})
    layout = pn.Column("# Title", pn.bind(lambda: pn.widgets.Tabulator(frame)), pn.widgets.TextInput(label="Search"))
    text = page_text(layout)
    assert "# Title" in text and "Ada" in text and "42" in text and "Search" in text


def test_page_text_reads_every_bound_function_of_a_page():
    import gc

    import panel as pn

    shown = pn.widgets.Checkbox(label="shown")
    for attempt in range(60):  # the results of bound functions are temporary: their ids get reused
        layout = pn.Column(
            *[pn.bind(lambda _shown, k=k: pn.Column(pn.pane.Markdown(f"part {k}")), shown) for k in range(6)]
        )
        text = page_text(layout)
        assert all(f"part {k}" in text for k in range(6)), f"attempt {attempt}: {text!r}"
        if attempt % 7 == 0:
            gc.collect()


def test_home_lists_every_data_view_for_analysts(ws: Workspace):
    from crm_workspace.web.app import Home

    with registered(ws, Scores(), name="scores"):
        text = page_text(Home(workspace=ws))
    assert "Reproduce in a notebook" in text
    assert "ws.df(&quot;scores.top&quot;)</code> — The first contacts, by id." in text
