"""The relationship map in a real Chromium: a record link opens the map on its focus, a click
on a node grows the map and opens the side panel, search ignores accents, the introduction path
to a demo target is listed and drawn, hostile names stay text."""

from __future__ import annotations

from crm_workspace_relationships import editing, focus, network, queries
from helpers import open_page
from playwright.sync_api import expect

from crm_workspace import Workspace

#: how long an expectation waits for what a person would see (the machine may be busy)
WAIT = 30_000

# the screen position of one node of the map, and how many nodes are drawn
FIND_NODE = """(node) => {
  const plot = Bokeh.index.query_one(v => v.model.name === 'relationship-map');
  const graph = Bokeh.index.query_one(v => v.model.name === 'relationship-graph');
  if (!plot || !graph) return null;
  const data = graph.model.node_renderer.data_source.data;
  const layout = graph.model.layout_provider.graph_layout;
  const at = layout.get ? layout.get(node) : layout[node];
  if (!at) return null;
  const rect = plot.canvas_view.el.getBoundingClientRect();
  return {x: rect.left + plot.frame.x_scale.compute(at[0]), y: rect.top + plot.frame.y_scale.compute(at[1]),
          count: data.index.length};
}"""
NODE_COUNT = """(expected) => {
  const graph = Bokeh.index.query_one(v => v.model.name === 'relationship-graph');
  return !!graph && graph.model.node_renderer.data_source.data.index.length === expected;
}"""
LABELS = """() => {
  const labels = Bokeh.index.query_one(v => v.model.name === 'relationship-labels');
  return labels ? Array.from(labels.model.data_source.data.text) : null;
}"""
ORG_CHART_BOXES = """(expected) => {
  const boxes = Bokeh.index.query_one(v => v.model.name === 'org-chart-boxes');
  return !!boxes && boxes.model.data_source.data.name.length === expected;
}"""
PATH_DRAWN = "() => !!Bokeh.index.query_one(v => v.model.name === 'path-edges')"


def wait_for_map(page) -> None:
    expect(page.get_by_text("Stakeholder relationship map")).to_be_visible(timeout=WAIT)
    page.locator("canvas").first.wait_for()
    page.wait_for_function(
        "() => window.Bokeh && Bokeh.index.query_one(v => v.model.name === 'relationship-graph')", timeout=WAIT
    )


def open_map(page, server):
    open_page(page, server, "relationships")
    wait_for_map(page)


def pick(page, label: str, text: str, option: str) -> None:
    """Type into a NodePicker and choose one of its matches."""
    box = page.get_by_label(label)
    box.fill(text)
    box.press("Enter")
    matches = page.locator("select").filter(has_text=option).first
    expect(matches).to_be_visible(timeout=WAIT)
    matches.select_option(label=option)


def test_record_link_opens_the_focused_map_and_a_click_grows_it(page, served_demo):
    ws = Workspace.open(served_demo.db, builtins_only=True)
    try:
        st = network.state(ws)
        f = network.Filters()
        # a person whose organization brings colleagues when expanded
        center = next(
            n
            for n in sorted(st.graph, key=lambda n: int(n.split(":")[1]))
            if n.startswith("contacts:") and len(focus.focus_nodes(st.graph, n, f, 1)) >= 3
        )
        first = focus.focus_nodes(st.graph, center, f, 1)
        org = next(n for n in first if n.startswith("organizations:"))
        grown = focus.focus_nodes(st.graph, center, f, 1, expanded=[org])
        names = {n: st.graph.nodes[n]["name"] for n in grown}
        people = ws.store.query("SELECT id FROM contacts WHERE organization_id = ?", [int(org.split(":")[1])])
    finally:
        ws.close()
    assert len(grown) > len(first)
    page.goto(f"{served_demo.url}?page=relationships&focus={center}")
    wait_for_map(page)
    expect(page.get_by_text(f"Centred on {names[center]}")).to_be_visible(timeout=WAIT)
    expect(page.get_by_role("heading", name=names[center])).to_be_visible(timeout=WAIT)  # the focus is selected
    page.wait_for_function(NODE_COUNT, arg=len(first), timeout=WAIT)
    labels = page.evaluate(LABELS)
    assert names[center] in labels and names[org] in labels
    expect(page.get_by_text(f"{len(first)} nodes")).to_be_visible(timeout=WAIT)
    for attempt in range(3):  # a real click on the organization's computed screen position
        target = page.evaluate(FIND_NODE, org)
        page.mouse.click(target["x"], target["y"])
        try:
            expect(page.get_by_role("heading", name=names[org])).to_be_visible(timeout=10_000)
            break
        except AssertionError:
            if attempt == 2:
                raise
    page.wait_for_function(NODE_COUNT, arg=len(grown), timeout=WAIT)  # the organization's people joined the map
    expect(page.get_by_text(f"{len(grown)} nodes")).to_be_visible(timeout=WAIT)
    page.get_by_role("button", name="Show only the focus's neighbours").click()
    page.wait_for_function(NODE_COUNT, arg=len(first), timeout=WAIT)
    page.get_by_role("button", name="Show org chart").click()  # the organization's chart, drawn as a tree
    page.wait_for_function(ORG_CHART_BOXES, arg=len(people), timeout=WAIT)


def test_search_ignores_accents(page, served_demo):
    ws = Workspace.open(served_demo.db, builtins_only=True)
    try:
        hits = [r for r in queries.search_nodes(ws, "jose") if r["name"] != queries.fold(r["name"])]
    finally:
        ws.close()
    assert hits, "the demo has a José"
    hit = hits[0]
    open_map(page, served_demo)
    pick(page, "Search the map", "jose", f"{hit['name']} — {hit['detail']}")
    expect(page.get_by_role("heading", name=hit["name"])).to_be_visible(timeout=WAIT)
    expect(page.get_by_text(f"Centred on {hit['name']}")).to_be_visible(timeout=WAIT)
    page.get_by_role("button", name="Open contact page").click()
    page.wait_for_function("() => location.search.includes('page=contacts')", timeout=WAIT)
    # the contact's record page carries this module's "Relationships" section (crm_record_sections)
    expect(page.get_by_role("button", name="Add a relationship")).to_be_visible(timeout=WAIT)


def test_introduction_path_is_shown_for_a_demo_target(page, served_demo):
    ws = Workspace.open(served_demo.db, builtins_only=True)
    try:
        full = network.state(ws).graph
        origin, target = "contacts:1", "contacts:250"
        steps = network.introduction_path(full, origin, target)
        name = full.nodes
        origin_option = f"{name[origin]['name']} — {name[origin]['organization']}"
        target_option = f"{name[target]['name']} — {name[target]['organization']}"
    finally:
        ws.close()
    assert len(steps) >= 2
    open_map(page, served_demo)
    pick(page, "How do I reach… starting from", name[origin]["name"], origin_option)
    pick(page, "Search the map", name[target]["name"], target_option)
    expect(page.get_by_role("heading", name=name[target]["name"])).to_be_visible(timeout=WAIT)
    page.get_by_role("button", name="Show introduction path to the selected").click()
    listing = page.locator(".intro-path")
    expect(listing).to_contain_text(f"Introduction path ({len(steps)} steps)", timeout=WAIT)
    expect(listing.locator("li")).to_have_count(len(steps), timeout=WAIT)
    expect(listing.locator("li").last).to_contain_text(name[target]["name"], timeout=WAIT)
    page.wait_for_function(PATH_DRAWN, timeout=WAIT)


def test_hostile_names_render_as_text(page, served_demo):
    ws = Workspace.open(served_demo.db, builtins_only=True, user="ana")
    try:
        row = ws.store.insert("contacts", {"first_name": "<b>Bold</b>", "last_name": "<script>x()</script>"})
        editing.add_relationship(ws, f"contacts:{row['id']}", "contacts:1", "introduced", 4)
    finally:
        ws.close()
    open_map(page, served_demo)
    pick(page, "Search the map", "Bold", "<b>Bold</b> <script>x()</script>")
    heading = page.get_by_role("heading", name="<b>Bold</b> <script>x()</script>")
    expect(heading).to_be_visible(timeout=WAIT)
    expect(page.locator(".rel-list")).to_contain_text("introduced", timeout=WAIT)


def test_organization_filter_is_searched_as_typed(page, served_demo):
    """The Filters card's organization box lists nothing up front (a workspace may hold tens of
    thousands): typing part of a name, without its accents, offers the matches; choosing one
    filters the map, and "(all organizations)" shows everyone again."""
    ws = Workspace.open(served_demo.db, builtins_only=True)
    try:
        st = network.state(ws)
        everyone = network.Filters()
        center, org_id, first, kept = next(
            (n, org, first, kept)
            for n in sorted(st.graph, key=lambda n: int(n.split(":")[1]))
            if n.startswith("contacts:") and (org := st.graph.nodes[n].get("organization_id"))
            for first in [focus.focus_nodes(st.graph, n, everyone, 1)]
            for kept in [focus.focus_nodes(st.graph, n, network.Filters(organization_id=org), 1)]
            if len(kept) != len(first)
        )
        org_name = ws.store.query("SELECT name FROM organizations WHERE id = ?", [org_id])[0]["name"]
    finally:
        ws.close()
    page.goto(f"{served_demo.url}?page=relationships&focus={center}")
    wait_for_map(page)
    page.wait_for_function(NODE_COUNT, arg=len(first), timeout=WAIT)
    page.get_by_text("Filters", exact=True).click()
    box = page.get_by_label("Organization", exact=True)
    box.click()
    box.press_sequentially(queries.fold(org_name)[:8], delay=120)  # typed without accents, lower case
    choice = f"{org_name} #{org_id}"
    matches = page.locator("select").filter(has_text=choice).first
    expect(matches).to_be_visible(timeout=WAIT)
    matches.select_option(label=choice)
    page.wait_for_function(NODE_COUNT, arg=len(kept), timeout=WAIT)
    expect(page.get_by_text(f"{len(kept)} nodes")).to_be_visible(timeout=WAIT)
    matches.select_option(label="(all organizations)")
    page.wait_for_function(NODE_COUNT, arg=len(first), timeout=WAIT)
