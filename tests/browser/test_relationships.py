"""The relationship map in a real Chromium: the map draws nodes, a click on a node opens the
side panel, the introduction path to a demo target is listed and drawn, hostile names stay text."""

from __future__ import annotations

from crm_workspace_relationships import editing, network
from helpers import open_page
from playwright.sync_api import expect

from crm_workspace import Workspace

# the screen position of the most isolated contact node (so a click hits it and nothing else)
FIND_NODE = """() => {
  const plot = Bokeh.index.query_one(v => v.model.name === 'relationship-map');
  const graph = Bokeh.index.query_one(v => v.model.name === 'relationship-graph');
  if (!plot || !graph) return null;
  const data = graph.model.node_renderer.data_source.data;
  const layout = graph.model.layout_provider.graph_layout;
  const rect = plot.canvas_view.el.getBoundingClientRect();
  const frame = plot.frame.bbox;
  const points = Array.from(data.index, (node, i) => {
    const [x, y] = layout.get ? layout.get(node) : layout[node];
    return {node, name: data.name[i], x: plot.frame.x_scale.compute(x), y: plot.frame.y_scale.compute(y)};
  });
  let best = null, bestGap = -1;
  for (const p of points) {
    if (!p.node.startsWith('contacts:')) continue;
    if (p.x < frame.left + 20 || p.x > frame.right - 20 || p.y < frame.top + 20 || p.y > frame.bottom - 20) continue;
    let gap = Infinity;
    for (const q of points) if (q !== p) gap = Math.min(gap, Math.hypot(p.x - q.x, p.y - q.y));
    if (gap > bestGap) { bestGap = gap; best = p; }
  }
  return {...best, x: rect.left + best.x, y: rect.top + best.y, count: points.length};
}"""

PATH_DRAWN = "() => !!Bokeh.index.query_one(v => v.model.name === 'path-edges')"


def open_map(page, server):
    open_page(page, server, "relationships")
    expect(page.get_by_text("Stakeholder relationship map")).to_be_visible()
    page.locator("canvas").first.wait_for()
    page.wait_for_function("() => window.Bokeh && Bokeh.index.query_one(v => v.model.name === 'relationship-graph')")


def pick(page, label: str, text: str, option: str) -> None:
    """Type into a NodePicker and choose one of its matches."""
    box = page.get_by_label(label)
    box.fill(text)
    box.press("Enter")
    matches = page.locator("select").filter(has_text=option).first
    expect(matches).to_be_visible()
    matches.select_option(label=option)


def test_map_renders_and_a_click_on_a_node_opens_the_side_panel(page, served_demo):
    ws = Workspace.open(served_demo.db, builtins_only=True)
    try:
        nodes = ws.store.scalar("SELECT (SELECT count(*) FROM contacts) + (SELECT count(*) FROM organizations)")
    finally:
        ws.close()
    open_map(page, served_demo)
    expect(page.get_by_text(f"{nodes} nodes")).to_be_visible()
    expect(page.get_by_text("Click a node")).to_be_visible()
    page.wait_for_timeout(500)  # let the canvas settle to its final size before measuring
    for attempt in range(3):  # a real click on the node's computed screen position
        target = page.evaluate(FIND_NODE)
        assert target and target["count"] == nodes
        page.mouse.click(target["x"], target["y"])
        try:
            expect(page.get_by_role("heading", name=target["name"])).to_be_visible(timeout=4000)
            break
        except AssertionError:
            if attempt == 2:
                raise
    expect(page.get_by_role("button", name="Open contact page")).to_be_visible()
    expect(page.get_by_role("button", name="Add a relationship")).to_be_visible()
    page.get_by_role("button", name="Open contact page").click()
    page.wait_for_function("() => location.search.includes('page=contacts')")
    # the contact's record page carries this module's "Relationships" section (crm_record_sections)
    expect(page.get_by_role("button", name="Add a relationship")).to_be_visible(timeout=15_000)


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
    expect(page.get_by_role("heading", name=name[target]["name"])).to_be_visible()
    page.get_by_role("button", name="Show introduction path to the selected").click()
    listing = page.locator(".intro-path")
    expect(listing).to_contain_text(f"Introduction path ({len(steps)} steps)")
    expect(listing.locator("li")).to_have_count(len(steps))
    expect(listing.locator("li").last).to_contain_text(name[target]["name"])
    page.wait_for_function(PATH_DRAWN)


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
    expect(heading).to_be_visible()
    expect(page.locator(".rel-list")).to_contain_text("introduced")
