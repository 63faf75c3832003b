"""The relationship map's Panel views, driven from Python (no server)."""

from __future__ import annotations

import re
from pathlib import Path

import panel as pn
import pytest
from crm_workspace_relationships import editing, queries
from crm_workspace_relationships.model import MapModel
from crm_workspace_relationships.views import OrgChartView, RelationshipEditor, RelationshipMap


@pytest.fixture
def small(workspace):
    acme = workspace.store.insert("organizations", {"name": "Acme"})["id"]
    names = ["Ann", "<img src=x onerror=alert(1)>", "Cid"]
    nodes = [
        f"contacts:{workspace.store.insert('contacts', {'first_name': n, 'organization_id': acme})['id']}"
        for n in names
    ]
    editing.add_relationship(workspace, nodes[0], nodes[1], "works_with", 5)
    editing.add_relationship(workspace, nodes[1], nodes[2], "influences", 4)
    return workspace, nodes


def _bokeh(view):
    return view.map._map().object


def _drawn(view) -> set[str]:
    graph = next(r for r in _bokeh(view).renderers if r.name == "relationship-graph")
    return set(graph.node_renderer.data_source.data["index"])


def test_map_draws_the_focus_and_its_neighbours(small):
    ws, nodes = small
    ws.store.insert("contacts", {"first_name": "Far away"})
    view = RelationshipMap(workspace=ws)
    pn.panel(view)
    view.model.focus_on(nodes[1])
    fig = _bokeh(view)
    graph = next(r for r in fig.renderers if r.name == "relationship-graph")
    drawn = graph.node_renderer.data_source.data
    assert set(drawn["index"]) == {*nodes, "organizations:1"}  # not "Far away": not a neighbour
    assert "<img src=x onerror=alert(1)>" in drawn["name"]  # raw data: Bokeh tooltips escape it
    assert len(graph.edge_renderer.data_source.data["start"]) == 5  # 2 ties + 3 memberships
    layout = graph.layout_provider.graph_layout
    assert layout[nodes[1]] == (0.0, 0.0)  # the focus in the middle, its neighbours on a ring
    radii = {round((x * x + y * y) ** 0.5, 6) for n, (x, y) in layout.items() if n != nodes[1]}
    assert len(radii) == 1
    labels = next(r for r in fig.renderers if r.name == "relationship-labels").data_source.data
    assert set(labels["text"]) == {"Ann", "<img src=x onerror=alert(1)>", "Cid", "Acme"}
    legend = {item.label["value"] for item in fig.legend[0].items}
    assert "organization" in legend
    view.min_strength.value = 5
    graph = next(r for r in _bokeh(view).renderers if r.name == "relationship-graph")
    assert len(graph.edge_renderer.data_source.data["start"]) == 1
    assert "2 nodes, 1 connection." in view.status.object


def test_tap_expands_the_node_and_opens_the_side_panel(small):
    ws, nodes = small
    view = RelationshipMap(workspace=ws)
    pn.panel(view)
    view.model.focus_on(nodes[2])
    assert _drawn(view) == {nodes[1], nodes[2], "organizations:1"}
    view.map._on_tap("indices", [], [view.map._nodes.index(nodes[1])])
    assert view.model.selected == nodes[1] and view.model.expanded == [nodes[1]]
    assert _drawn(view) == {*nodes, "organizations:1"}  # the map grew by the tapped node's neighbours
    assert not view.collapse.disabled
    side = view.side._side()
    html_text = view.side._record().object
    assert "&lt;img src=x" in html_text and "<img" not in html_text
    centre = next(o for o in side.objects if getattr(o, "label", "") == "Centre the map here")
    button = side.objects[1]
    button.clicks += 1
    assert ws.page == "contacts" and ws.page_args == {"id": queries.parse_node(nodes[1])[1]}
    centre.clicks += 1
    assert view.model.focus == nodes[1] and view.model.expanded == []


def test_record_link_opens_the_map_on_its_focus(small):
    ws, nodes = small
    deal = ws.store.insert("deals", {"title": "Big one", "organization_id": 1, "stage": "proposal"})["id"]
    ws.open_page("relationships", focus=nodes[0])
    view = RelationshipMap(workspace=ws)
    assert view.model.focus == nodes[0] and view.model.selected == nodes[0]
    ws.open_page("relationships", focus=f"deals:{deal}")  # a deal is shown through its organization
    assert view.model.focus == "organizations:1"
    assert _drawn(view) == {*nodes, "organizations:1"}


def test_introduction_path_is_listed_and_drawn(small):
    ws, nodes = small
    view = RelationshipMap(workspace=ws)
    pn.panel(view)
    view.path_finder.origin.set(nodes[0])
    assert view.model.origin == nodes[0]
    view.model.selected = nodes[2]
    view.path_finder.reach.clicks += 1
    assert view.model.path == [nodes[0], nodes[1], nodes[2]]
    listing = view.path_finder.listing().object
    assert "Introduction path" in listing and "&lt;img" in listing and "Cid" in listing
    fig = _bokeh(view)
    assert any(r.name == "path-edges" for r in fig.renderers)


def test_editor_adds_edits_removes_and_shows_errors(small):
    ws, nodes = small
    editor = RelationshipEditor(workspace=ws, node=nodes[0])
    pn.panel(editor)
    editor._list()
    editor._target.set(nodes[1])
    editor._new_kind.value = "works_with"
    editor._add.clicks += 1
    assert editor._message.visible and "already exists" in editor._message.object
    editor._new_kind.value = "introduced"
    editor._add.clicks += 1
    assert not editor._message.visible
    assert ws.store.scalar("SELECT count(*) FROM relationships WHERE kind = 'introduced'") == 1
    editor._list()
    rel_id = ws.store.scalar("SELECT id FROM relationships WHERE kind = 'introduced'")
    editor._pick.value = rel_id
    editor._strength.value = 1
    editor._save.clicks += 1
    assert ws.store.scalar("SELECT strength FROM relationships WHERE id = ?", [rel_id]) == 1
    editor._remove.clicks += 1
    assert ws.store.scalar("SELECT count(*) FROM relationships WHERE id = ?", [rel_id]) == 0
    # a stale version (someone else changed it) is refused with a message
    editor._list()
    first = editor._pick.value
    ws.store.update("relationships", first, {"notes": "changed elsewhere"})
    editor._strength.value = 2
    editor._save.clicks += 1
    assert editor._message.visible and "changed by" in editor._message.object


def test_contact_page_section_and_notebook_dashboard(small):
    ws, nodes = small
    sections = ws.record_sections("contacts", queries.parse_node(nodes[0])[1])
    assert [s.title for s in sections if s.plugin == "relationships"] == ["Relationships"]
    editor = next(s for s in sections if s.plugin == "relationships").view()
    assert "works with" in editor._list().object
    editor._on_map.clicks += 1  # the record's link to the map, centred on it
    assert ws.page == "relationships" and ws.page_args == {"focus": nodes[0]}
    assert RelationshipMap(workspace=ws).model.focus == nodes[0]
    assert ws.record_sections("deals", 1) == [] or all(
        s.plugin != "relationships" for s in ws.record_sections("deals", 1)
    )
    assert isinstance(ws.dashboard("relationships"), pn.viewable.Viewable)


def test_filter_widgets_are_bound_to_the_model(small):
    ws, _nodes = small
    view = RelationshipMap(workspace=ws)
    view.min_strength.value = 5  # widget -> model
    assert view.model.min_strength == 5
    view.model.kinds = ["influences"]  # model -> widget
    assert view.kinds.value == ["influences"]
    view.organization._input.value_input = "acm"  # typing searches; the one match is chosen
    assert view.model.filters().organization_id == 1
    assert view.organization._matches.value == 1
    view.organization._matches.value = 0  # "(all organizations)"
    assert view.model.organization_id is None
    view.model.organization_id = 1  # model -> widget
    assert view.organization._matches.value == 1
    view.show_chart(1)  # the side panel's "org chart" shows the organization in the chart's picker
    chart = OrgChartView(model=view.chart)
    assert chart.organization._matches.value == 1 and "Acme #1" in chart.organization._matches.options


def test_organization_filter_finds_any_of_many_organizations_by_part_of_its_name(workspace):
    """No list of the first few thousand: what is typed is searched on the server (ignoring case
    and accents); the select of matches starts with "(all organizations)", which clears the filter."""
    from crm_workspace.web.pickers import RecordPicker

    ws = workspace
    ws.store.insert_many("organizations", [{"name": f"Company {i:05d}"} for i in range(6000)])
    last = ws.store.insert("organizations", {"name": "Zürich Versicherung"})["id"]
    model = MapModel(workspace=ws)
    picker = RecordPicker.from_param(
        model.param.organization_id, choices=model.organization_choices, none_label="(all organizations)"
    )
    assert list(picker._matches.options) == ["(all organizations)"]  # nothing listed before typing
    picker._input.value_input = "zurich"
    assert model.organization_id == last  # the one match is chosen
    picker._input.value_input = "company 0"
    options = list(picker._matches.options)  # "(all)", the chosen one kept, then the first 20 matches
    assert options[:2] == ["(all organizations)", f"Zürich Versicherung #{last}"]
    assert options[2:] == [f"Company {i:05d} #{i + 1}" for i in range(20)]
    assert model.organization_id == last  # many matches: nothing chosen for the person
    picker._matches.value = 7
    assert model.organization_id == 7
    picker._matches.value = 0  # "(all organizations)": the filter cleared
    assert model.organization_id is None
    ws.store.delete("organizations", last)
    picker._input.value_input = "company 1"
    model.organization_id = last  # e.g. a side panel still showing a deleted organization: no error
    assert picker._matches.value == last and f"#{last} (no longer exists)" in picker._matches.options


def test_found_node_becomes_the_focus(small):
    ws, nodes = small
    ws.store.insert("contacts", {"first_name": "Far away"})
    view = RelationshipMap(workspace=ws)
    view.find._input.value_input = "Cid"  # typing searches; the one match is chosen
    assert view.find.value == nodes[2] and view.model.focus == nodes[2] and view.model.selected == nodes[2]
    assert _drawn(view) == {nodes[1], nodes[2], "organizations:1"}
    view.model.hops = 2
    assert _drawn(view) == {*nodes, "organizations:1"}
    view.find._input.value_input = "zzz"
    assert list(view.find._matches.options) == ["(no match)"] and view.find._matches.visible


def test_org_chart_button_opens_the_chart_tab(small):
    ws, nodes = small
    editing.add_relationship(ws, nodes[2], nodes[0], "reports_to", 3)
    view = RelationshipMap(workspace=ws)
    view.__panel__()
    view.model.selected = "organizations:1"
    button = view.side._side().objects[1]
    assert button.label == "Show org chart"
    button.clicks += 1
    assert view.tabs.active == 2 and view.chart.organization_id == 1
    fig = OrgChartView(model=view.chart).chart().objects[0].object
    people = next(r for r in fig.renderers if r.name == "org-chart-boxes").data_source.data
    y = dict(zip(people["name"], people["y"], strict=True))
    assert y["Ann"] > y["Cid"]  # Cid reports to Ann: drawn below her
    links = next(r for r in fig.renderers if r.name == "org-chart-links").data_source.data
    assert len(links["xs"]) == 1


def test_view_modules_hold_no_sql():
    import crm_workspace_relationships.views as package

    folder = Path(package.__file__).parent
    for path in folder.glob("*.py"):
        source = path.read_text()
        for pattern in (r"\bSELECT\b", r"\bINSERT\s+INTO\b", r"\bUPDATE\s+\w+\s+SET\b", r"\bDELETE\s+FROM\b"):
            assert not re.search(pattern, source), f"{path.name} holds SQL ({pattern})"
        assert ".store." not in source and ".query(" not in source, f"{path.name} queries the store"


def test_a_record_picker_whose_lookup_fails_still_shows_the_chosen_id():
    """The select must not go on showing the record chosen before while the value is another one."""
    from crm_workspace.web.pickers import RecordPicker

    def choices(text: str, current: int | None) -> dict[str, int]:
        if current == 2:
            raise RuntimeError("database is locked")
        return {"Acme (#1)": 1} if current == 1 or "ac" in text else {}

    picker = RecordPicker(choices=choices, value=1)
    assert picker._matches.value == 1
    picker.value = 2
    assert picker._matches.value == 2 and picker.matches["#2"] == 2
