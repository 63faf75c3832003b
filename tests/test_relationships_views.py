"""The relationship map's Panel views, driven from Python (no server)."""

from __future__ import annotations

import panel as pn
import pytest
from crm_workspace_relationships import editing, queries
from crm_workspace_relationships.views import RelationshipEditor, RelationshipMap


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


def test_map_draws_the_filtered_graph(small):
    ws, nodes = small
    view = RelationshipMap(workspace=ws)
    pn.panel(view)
    fig = _bokeh(view)
    graph = next(r for r in fig.renderers if r.name == "relationship-graph")
    drawn = graph.node_renderer.data_source.data
    assert set(drawn["index"]) == {*nodes, "organizations:1"}
    assert "<img src=x onerror=alert(1)>" in drawn["name"]  # raw data: Bokeh tooltips escape it
    assert len(graph.edge_renderer.data_source.data["start"]) == 5  # 2 ties + 3 memberships
    legend = {item.label["value"] for item in fig.legend[0].items}
    assert legend == {"customer", "prospect", "organization"} or "organization" in legend
    view.min_strength.value = 5
    graph = next(r for r in _bokeh(view).renderers if r.name == "relationship-graph")
    assert len(graph.edge_renderer.data_source.data["start"]) == 1
    assert "4 nodes" in view.status.object


def test_tap_opens_the_side_panel_and_the_contact_page(small):
    ws, nodes = small
    view = RelationshipMap(workspace=ws)
    pn.panel(view)
    _bokeh(view)
    view.map._on_tap("indices", [], [view.map._nodes.index(nodes[1])])
    assert view.model.selected == nodes[1]
    side = view.side._side()
    html_text = view.side._record().object
    assert "&lt;img src=x" in html_text and "<img" not in html_text
    button = side.objects[1]
    button.clicks += 1
    assert ws.page == "contacts" and ws.page_args == {"id": queries.parse_node(nodes[1])[1]}


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
    assert ws.record_sections("deals", 1) == [] or all(
        s.plugin != "relationships" for s in ws.record_sections("deals", 1)
    )
    assert isinstance(ws.dashboard("relationships"), pn.viewable.Viewable)

