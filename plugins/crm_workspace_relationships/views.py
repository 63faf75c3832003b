"""The relationship map page: a Bokeh network, filters, a side panel, analysis and org charts.

The graph and its layout come from the cache in ``model``; the browser receives
only the filtered subgraph (at most ``model.MAX_NODES`` nodes). Text from the
database reaches the page only as Bokeh data (tooltips escape it), as
``html.escape``-d HTML, or as widget values.
"""

from __future__ import annotations

import html
import itertools
import math
from typing import Any

import panel as pn
import param

from crm_workspace import CrmError, Workspace

from . import model, schema

PALETTE = {
    "customer": "#1f77b4",
    "prospect": "#aec7e8",
    "employee": "#2ca02c",
    "executive": "#d62728",
    "partner": "#9467bd",
    "supplier": "#8c564b",
    "media": "#e377c2",
    "investor": "#ff7f0e",
    "advisor": "#17becf",
    "other": "#7f7f7f",
    model.ORGANIZATION: "#393b79",
}
PATH_COLOR = "#ff2a00"
MAP_NAME = "relationship-map"


def _notify_error(error: Exception) -> None:
    if pn.state.notifications is not None:
        pn.state.notifications.error(str(error), duration=8000)


def _text(value: Any) -> str:
    return html.escape("" if value is None else str(value))


class NodePicker(pn.viewable.Viewer):
    """Type part of a name, pick a contact or organization: ``value`` is its node key."""

    workspace = param.ClassSelector(class_=Workspace)
    value = param.String(default=None, allow_None=True)
    label = param.String(default="Find")

    def __init__(self, **params):
        super().__init__(**params)
        self._text = pn.widgets.TextInput(label=self.label, placeholder="type a name…", sizing_mode="stretch_width")
        self._matches = pn.widgets.Select(label="", options={}, sizing_mode="stretch_width", visible=False)
        self._text.param.watch(self._search, "value_input")
        self._text.param.watch(self._search, "value")
        self._matches.param.watch(self._pick, "value")

    def _search(self, event) -> None:
        rows = model.search_nodes(self.workspace, event.new or "", limit=25)
        options = {f"{r['name']} — {r['detail']}" if r["detail"] else r["name"]: r["node"] for r in rows}
        self._matches.options = {"(choose)": None, **options} if options else {"(no match)": None}
        self._matches.visible = bool(event.new)
        if len(options) == 1:
            self._matches.value = next(iter(options.values()))

    def _pick(self, event) -> None:
        if event.new:
            self.value = event.new

    def set(self, node: str | None, text: str = "") -> None:
        self.value = node
        if text:
            self._text.value = text

    def __panel__(self):
        return pn.Column(self._text, self._matches, sizing_mode="stretch_width", margin=0)


class RelationshipEditor(pn.viewable.Viewer):
    """A node's relationships: list, add, edit, remove (used by the map and the contact page)."""

    workspace = param.ClassSelector(class_=Workspace)
    node = param.String()
    show_open = param.Boolean(default=True)

    def __init__(self, **params):
        super().__init__(**params)
        ws = self.workspace
        self._pick = pn.widgets.Select(label="Relationship", options={}, sizing_mode="stretch_width")
        self._kind = pn.widgets.Select(label="Kind", options=list(schema.RELATIONSHIP_KINDS), value="works_with")
        self._strength = pn.widgets.IntSlider(label="Strength", start=1, end=5, value=3)
        self._notes = pn.widgets.TextInput(label="Notes", sizing_mode="stretch_width")
        self._save = pn.widgets.Button(label="Save changes", color="primary")
        self._remove = pn.widgets.Button(label="Remove", color="danger")
        self._target = NodePicker(workspace=ws, label="Add a relationship to")
        self._new_kind = pn.widgets.Select(label="Kind", options=list(schema.RELATIONSHIP_KINDS), value="works_with")
        self._new_strength = pn.widgets.IntSlider(label="Strength", start=1, end=5, value=3)
        self._new_notes = pn.widgets.TextInput(label="Notes", sizing_mode="stretch_width")
        self._add = pn.widgets.Button(label="Add relationship", color="success")
        self._message = pn.pane.Alert("", alert_type="danger", visible=False, sizing_mode="stretch_width")
        self._rows: dict[int, dict] = {}
        self._loaded: tuple[int, int] | None = None
        self._pick.param.watch(self._load, "value")
        self._save.on_click(self._on_save)
        self._remove.on_click(self._on_remove)
        self._add.on_click(self._on_add)

    def _error(self, error: Exception) -> None:
        self._message.object = _text(error)
        self._message.visible = True
        _notify_error(error)

    def _ok(self) -> None:
        self._message.visible = False

    def _load(self, event=None) -> None:
        """Put the chosen relationship in the form, remembering the version the user saw."""
        row = self._rows.get(self._pick.value)
        self._loaded = (row["id"], row["version"]) if row else None
        if row:
            self._kind.value, self._strength.value, self._notes.value = row["kind"], row["strength"] or 3, row["notes"]

    def _refresh(self) -> None:
        self._rows = {r["id"]: r for r in model.relationships_of(self.workspace, self.node)}
        self._loaded = None

    def _on_save(self, _event) -> None:
        if not self._loaded:
            return
        rel_id, version = self._loaded
        try:
            model.update_relationship(
                self.workspace,
                rel_id,
                {"kind": self._kind.value, "strength": self._strength.value, "notes": self._notes.value or None},
                version,
            )
            self._ok()
            self._refresh()
            self._load()
        except CrmError as error:
            self._error(error)

    def _on_remove(self, _event) -> None:
        if not self._loaded:
            return
        rel_id, version = self._loaded
        try:
            model.delete_relationship(self.workspace, rel_id, version)
            self._ok()
            self._refresh()
        except CrmError as error:
            self._error(error)

    def _on_add(self, _event) -> None:
        try:
            if not self._target.value:
                raise CrmError("choose the other contact or organization first")
            model.add_relationship(
                self.workspace,
                self.node,
                self._target.value,
                self._new_kind.value,
                self._new_strength.value,
                self._new_notes.value,
            )
            self._ok()
        except CrmError as error:
            self._error(error)

    @param.depends("node", "workspace.revision")
    def _list(self):
        rows = model.relationships_of(self.workspace, self.node)
        self._rows = {r["id"]: r for r in rows}
        options = {
            f"{r['kind']} {'→' if r['direction'] == 'out' else '←'} {r['other_name']} ({r['strength']})": r["id"]
            for r in rows
        }
        self._pick.options = options
        if options:
            if self._pick.value not in self._rows:
                self._pick.value = next(iter(options.values()))
            if self._loaded is None or self._loaded[0] not in self._rows:
                self._load()  # keep a form the user is editing: its version decides conflicts
        if not rows:
            return pn.pane.HTML("<p class='rel-none'>No relationships yet.</p>")
        items = "".join(
            f"<li><b>{_text(r['kind'].replace('_', ' '))}</b> {'→' if r['direction'] == 'out' else '←'} "
            f"{_text(r['other_name'])} <span title='strength'>{'●' * int(r['strength'] or 0)}</span>"
            f"{' — ' + _text(r['notes']) if r['notes'] else ''}</li>"
            for r in rows
        )
        return pn.pane.HTML(f"<ul class='rel-list'>{items}</ul>", sizing_mode="stretch_width")

    @param.depends("node", "workspace.revision")
    def _editor(self):
        if not self._rows:
            return pn.Column()
        return pn.Card(
            self._pick,
            self._kind,
            self._strength,
            self._notes,
            pn.Row(self._save, self._remove),
            title="Edit a relationship",
            collapsed=True,
            sizing_mode="stretch_width",
        )

    def __panel__(self):
        return pn.Column(
            self._message,
            self._list,
            self._editor,
            pn.Card(
                self._target,
                self._new_kind,
                self._new_strength,
                self._new_notes,
                self._add,
                title="Add a relationship",
                collapsed=True,
                sizing_mode="stretch_width",
            ),
            sizing_mode="stretch_width",
        )


def map_figure(st: model.GraphState, sub, nodes: list[str], path: list[str]):
    """The Bokeh figure of ``nodes`` (a subset of ``sub``), with ``path`` highlighted."""
    from bokeh.models import (
        ColumnDataSource,
        GraphRenderer,
        HoverTool,
        Legend,
        LegendItem,
        MultiLine,
        NodesOnly,
        Scatter,
        StaticLayoutProvider,
        TapTool,
    )
    from bokeh.plotting import figure

    fig = figure(
        name=MAP_NAME,
        tools="pan,wheel_zoom,box_zoom,reset,save",
        active_scroll="wheel_zoom",
        sizing_mode="stretch_width",
        height=620,
        match_aspect=True,
        toolbar_location="above",
    )
    fig.axis.visible = False
    fig.grid.visible = False
    keep = set(nodes)
    g = sub.subgraph(nodes)
    importance = st.importance
    node_data: dict[str, list] = {k: [] for k in ("index", "name", "kind", "organization", "title", "ties")}
    node_data.update(color=[], size=[], marker=[])
    for n in nodes:
        d = sub.nodes[n]
        node_data["index"].append(n)
        node_data["name"].append(d["name"])
        node_data["kind"].append(d["stakeholder_type"])
        node_data["organization"].append(d["organization"] or "")
        node_data["title"].append(d["title"] or "")
        node_data["ties"].append(importance.get(n, 0))
        node_data["color"].append(PALETTE.get(d["stakeholder_type"], "#7f7f7f"))
        node_data["size"].append(min(34.0, 7 + 2.2 * math.sqrt(importance.get(n, 0))))
        node_data["marker"].append("square" if d["table"] == "organizations" else "circle")
    edge_data: dict[str, list] = {"start": [], "end": [], "width": [], "kinds": []}
    for a, b, d in g.edges(data=True):
        edge_data["start"].append(a)
        edge_data["end"].append(b)
        edge_data["width"].append(0.4 + 0.7 * d["strength"])
        edge_data["kinds"].append(", ".join(sorted(d["ties"])))
    renderer = GraphRenderer(name="relationship-graph")
    renderer.node_renderer.data_source = ColumnDataSource(node_data, name="relationship-nodes")
    renderer.edge_renderer.data_source = ColumnDataSource(edge_data)
    style = {"size": "size", "fill_color": "color", "marker": "marker"}
    renderer.node_renderer.glyph = Scatter(**style, line_color="white", line_width=1)
    renderer.node_renderer.selection_glyph = Scatter(**style, line_color="black", line_width=3)
    renderer.node_renderer.nonselection_glyph = Scatter(**style, line_color="white", fill_alpha=0.55)
    renderer.node_renderer.hover_glyph = Scatter(**style, line_color="black", line_width=2)
    renderer.edge_renderer.glyph = MultiLine(line_width="width", line_color="#8a96a3", line_alpha=0.45)
    renderer.layout_provider = StaticLayoutProvider(graph_layout={n: st.pos[n] for n in nodes})
    renderer.selection_policy = NodesOnly()
    renderer.inspection_policy = NodesOnly()
    fig.renderers.append(renderer)
    fig.add_tools(
        HoverTool(
            renderers=[renderer.node_renderer],
            tooltips=[
                ("name", "@name"),
                ("type", "@kind"),
                ("organization", "@organization"),
                ("title", "@title"),
                ("ties", "@ties"),
            ],
        ),
        TapTool(renderers=[renderer.node_renderer]),
    )
    # the legend: one (empty) marker per type on the map
    present = sorted({sub.nodes[n]["stakeholder_type"] for n in nodes})
    # one invisible point per type, one legend item each (a single renderer: cheap to build)
    dots = fig.scatter(
        x=[math.nan] * len(present),
        y=[math.nan] * len(present),
        color=[PALETTE.get(k, "#7f7f7f") for k in present],
        marker=["square" if k == model.ORGANIZATION else "circle" for k in present],
        size=10,
    )
    items = [LegendItem(label=k.replace("_", " "), renderers=[dots], index=i) for i, k in enumerate(present)]
    if items:
        legend = Legend(
            items=items,
            orientation="horizontal",
            nrows=2,
            label_text_font_size="10px",
            spacing=4,
            padding=4,
            margin=2,
        )
        fig.add_layout(legend, "below")
    on_map = [n for n in path if n in keep]
    if len(on_map) > 1:
        xs = [[st.pos[a][0], st.pos[b][0]] for a, b in itertools.pairwise(path)]
        ys = [[st.pos[a][1], st.pos[b][1]] for a, b in itertools.pairwise(path)]
        fig.multi_line(xs, ys, line_width=5, line_color=PATH_COLOR, line_alpha=0.85, name="path-edges")
        px, py = [st.pos[n][0] for n in path], [st.pos[n][1] for n in path]
        fig.scatter(px, py, size=20, fill_alpha=0, line_color=PATH_COLOR, line_width=3, name="path-nodes")
        fig.text(
            px,
            py,
            text=[sub.nodes[n]["name"] if n in sub else n for n in path],
            x_offset=10,
            y_offset=-8,
            text_font_size="11px",
            text_color="#3b0a00",
        )
    return fig, renderer


class RelationshipMap(pn.viewable.Viewer):
    """The Relationships page: the map, its filters, a side panel, analysis, org charts."""

    workspace = param.ClassSelector(class_=Workspace)
    selected = param.String(default=None, allow_None=True, doc="the node shown in the side panel")
    path = param.List(default=[], doc="the nodes of the highlighted introduction path")
    path_error = param.String(default="")
    version = param.Integer(default=0, doc="bumped to redraw the map")

    def __init__(self, **params):
        super().__init__(**params)
        ws = self.workspace
        self.types = pn.widgets.MultiChoice(width=270, label="Stakeholder types", options=list(model.NODE_TYPES))
        orgs = ws.store.query("SELECT id, name FROM organizations ORDER BY name COLLATE NOCASE LIMIT 5000")
        self.organization = pn.widgets.Select(
            width=270,
            label="Organization",
            options={"(all)": None, **{f"{o['name']} #{o['id']}": o["id"] for o in orgs}},
        )
        self.kinds = pn.widgets.MultiChoice(width=270, label="Relationship kinds", options=list(model.KINDS))
        self.min_strength = pn.widgets.IntSlider(width=270, label="Minimum strength", start=1, end=5, value=1)
        self.ego = pn.widgets.Checkbox(width=270, label="Only the neighbourhood of the selected node", value=False)
        self.hops = pn.widgets.IntSlider(width=270, label="Hops (k)", start=1, end=4, value=2)
        self.find = NodePicker(workspace=ws, label="Search the map")
        self.origin = NodePicker(workspace=ws, label="How do I reach… starting from")
        mine = model.user_contact(ws)
        if mine:
            self.origin.set(mine, model.label(ws, mine).split(" (")[0])
        self.reach = pn.widgets.Button(width=270, label="Show introduction path to the selected", color="primary")
        self.clear_path = pn.widgets.Button(width=270, label="Clear path", color="light")
        self.find.param.watch(lambda e: self._select(e.new), "value")
        self.reach.on_click(self._on_reach)
        self.clear_path.on_click(lambda _e: self.param.update(path=[], path_error=""))
        for w in (self.types, self.organization, self.kinds, self.min_strength, self.ego, self.hops):
            w.param.watch(self._redraw, "value")
        self._renderer = None
        self._nodes: list[str] = []
        self.status = pn.pane.Markdown("", sizing_mode="stretch_width")

    # ------------------------------------------------------------ state
    def _redraw(self, *_events) -> None:
        self.version += 1

    def _select(self, node: str | None) -> None:
        if node:
            self.selected = node
            if self.ego.value:
                self._redraw()

    def filters(self) -> model.Filters:
        return model.Filters(
            stakeholder_types=tuple(self.types.value),
            organization_id=self.organization.value,
            kinds=tuple(self.kinds.value),
            min_strength=self.min_strength.value,
            center=self.selected if self.ego.value and self.selected else None,
            hops=self.hops.value,
        )

    def _on_reach(self, _event) -> None:
        target, origin = self.selected, self.origin.value
        if not target or not origin:
            self.param.update(path=[], path_error="Choose where to start and select a target on the map first.")
            return
        st = model.state(self.workspace)
        try:
            steps = model.introduction_path(st.graph, origin, target)
        except CrmError as error:
            self.param.update(path=[], path_error=str(error))
            return
        self.param.update(path=[origin] + [s["to"] for s in steps], path_error="")

    # ------------------------------------------------------------ views
    @param.depends("version", "path", "workspace.revision")
    def _map(self):
        st = model.state(self.workspace)
        try:
            sub = model.filtered(st.graph, self.filters())
        except CrmError as error:
            return pn.pane.Alert(_text(error), alert_type="warning")
        keep = [*self.path, *([self.selected] if self.selected else [])]
        nodes, capped = model.capped(sub, st, keep=keep)
        if self.path:
            sub = sub.copy() if sub is st.graph else sub
            for n in self.path:
                if n not in sub and n in st.graph:
                    sub.add_node(n, **st.graph.nodes[n])
                    nodes.append(n)
            for a, b in zip(self.path, self.path[1:], strict=False):
                if not sub.has_edge(a, b) and st.graph.has_edge(a, b):
                    sub.add_edge(a, b, **st.graph[a][b])
        self._nodes = nodes
        total = len(sub)
        if capped:
            message = (
                f"Showing the {len(nodes):,} most connected of {total:,} nodes: narrow the filters or show the"
                " neighbourhood of one node to see the rest."
            )
        else:
            message = f"{len(nodes):,} nodes, {sub.subgraph(nodes).number_of_edges():,} connections."
        self.status.object = _text(message)
        if not nodes:
            return pn.pane.Markdown("Nothing matches these filters.")
        fig, renderer = map_figure(st, sub, nodes, self.path)
        self._renderer = renderer
        if self.selected in nodes:
            renderer.node_renderer.data_source.selected.indices = [nodes.index(self.selected)]
        renderer.node_renderer.data_source.selected.on_change("indices", self._on_tap)
        return pn.pane.Bokeh(fig, sizing_mode="stretch_width", min_height=620)

    def _on_tap(self, _attr, _old, new) -> None:
        if new:
            node = self._nodes[new[0]] if new[0] < len(self._nodes) else None
            if node and node != self.selected:
                self.selected = node

    @param.depends("path", "path_error", "workspace.revision")
    def _path_view(self):
        if self.path_error:
            return pn.pane.Alert(_text(self.path_error), alert_type="warning", sizing_mode="stretch_width")
        if len(self.path) < 2:
            return pn.pane.HTML("")
        st = model.state(self.workspace)
        try:
            steps = model.introduction_path(st.graph, self.path[0], self.path[-1])
        except CrmError as error:
            return pn.pane.Alert(_text(error), alert_type="warning")
        items = "".join(
            f"<li>{_text(s['from_name'])} → <b>{_text(s['to_name'])}</b>"
            f" <small>({_text(s['kind'].replace('_', ' '))}, strength {s['strength']})</small></li>"
            for s in steps
        )
        return pn.pane.HTML(
            f"<div class='intro-path'><b>Introduction path</b> ({len(steps)} steps)<ol>{items}</ol></div>",
            sizing_mode="stretch_width",
        )

    @param.depends("selected", "workspace.revision")
    def _record(self):
        """The selected record's card (refreshes with the data)."""
        data = model.state(self.workspace).graph.nodes.get(self.selected) if self.selected else None
        if data is None:
            return pn.pane.Markdown("This record no longer exists." if self.selected else "")
        table, row_id = model.parse_node(self.selected)
        row = self.workspace.store.query(f"SELECT * FROM [{table}] WHERE id = ?", [row_id])
        row = row[0] if row else {}
        facts = [
            ("Type", data["stakeholder_type"]),
            ("Organization", data["organization"] if table == "contacts" else ""),
        ]
        facts += [("Title", row.get("title")), ("Email", row.get("email")), ("Phone", row.get("phone"))]
        facts += [("Industry", row.get("industry")), ("City", row.get("city"))]
        rows_html = "".join(f"<tr><th>{k}</th><td>{_text(v)}</td></tr>" for k, v in facts if v)
        return pn.pane.HTML(
            f"<div class='rel-record'><h3>{_text(data['name'])}</h3><table>{rows_html}</table></div>",
            sizing_mode="stretch_width",
        )

    @param.depends("selected")
    def _side(self):
        """Record card, navigation and the relationship editor (which refreshes itself, keeping its form)."""
        if not self.selected:
            return pn.pane.Markdown("*Click a node (or search) to see its record and relationships.*")
        table, row_id = model.parse_node(self.selected)
        items: list[Any] = [self._record]
        if table == "contacts":
            button = pn.widgets.Button(label="Open contact page", color="primary")
            button.on_click(lambda _e: self.workspace.open_page("contacts", id=row_id))
            items.append(button)
        else:
            chart = pn.widgets.Button(label="Show org chart", color="light")
            chart.on_click(lambda _e: self._show_chart(row_id))
            items.append(chart)
        items.append(RelationshipEditor(workspace=self.workspace, node=self.selected))
        return pn.Column(*items, sizing_mode="stretch_width")

    def _show_chart(self, org_id: int) -> None:
        self.chart_org.value = org_id
        self.tabs.active = 2

    # ----------------------------------------------------------- layout
    def __panel__(self):
        controls = pn.Column(
            self.find,
            self.types,
            self.organization,
            self.kinds,
            self.min_strength,
            self.ego,
            self.hops,
            pn.layout.Divider(),
            self.origin,
            self.reach,
            self.clear_path,
            width=300,
        )
        map_tab = pn.Row(
            controls,
            pn.Column(self.status, self._map, self._path_view, sizing_mode="stretch_width"),
            pn.Column(self._side, width=340, css_classes=["rel-side"]),
            sizing_mode="stretch_width",
        )
        self.analysis = AnalysisView(workspace=self.workspace)
        self.chart_org = pn.widgets.Select(label="Organization", options=dict(self.organization.options))
        self.tabs = pn.Tabs(
            ("Map", map_tab),
            ("Analysis", self.analysis),
            (
                "Org chart",
                pn.Column(self.chart_org, pn.bind(self._chart, self.chart_org, self.workspace.param.revision)),
            ),
            dynamic=True,
            sizing_mode="stretch_width",
        )
        return pn.Column("## Stakeholder relationship map", self.tabs, sizing_mode="stretch_width")

    def _chart(self, org_id, _revision):
        if org_id is None:
            return pn.pane.Markdown("Choose an organization to see who reports to whom.")
        return pn.pane.HTML(org_chart_html(model.org_chart(self.workspace, org_id)), sizing_mode="stretch_width")


def org_chart_html(roots: list[dict]) -> str:
    """Nested lists for an org chart (every name and title escaped)."""

    def render(nodes: list[dict]) -> str:
        items = "".join(
            f"<li><span class='org-person'>{_text(n['name'])}</span>"
            f"{' <small>' + _text(n['title']) + '</small>' if n['title'] else ''}"
            f"{render(n['children']) if n['children'] else ''}</li>"
            for n in nodes
        )
        return f"<ul>{items}</ul>"

    if not roots:
        return "<p>No people in this organization.</p>"
    return f"<div class='org-chart'>{render(roots)}</div>"


class AnalysisView(pn.viewable.Viewer):
    """Key connectors, isolated stakeholders, single-threaded deals, inferred ties."""

    workspace = param.ClassSelector(class_=Workspace)

    @param.depends("workspace.revision")
    def _connectors(self):
        import pandas as pd

        rows = model.connectors(model.state(self.workspace), top=25)
        frame = pd.DataFrame(rows, columns=["name", "stakeholder_type", "organization", "betweenness", "cut", "ties"])
        frame = frame.rename(columns={"cut": "articulation point"})
        return pn.Column(
            "### Key connectors",
            "Betweenness centrality (sampled on large graphs); an articulation point cuts the network if removed.",
            pn.widgets.Tabulator(frame, show_index=False, disabled=True, page_size=10, pagination="local"),
        )

    @param.depends("workspace.revision")
    def _isolated(self):
        import pandas as pd

        count = model.isolated_count(self.workspace)
        frame = pd.DataFrame(
            model.isolated(self.workspace, limit=100), columns=["id", "name", "stakeholder_type", "organization"]
        )
        return pn.Column(
            f"### Isolated stakeholders ({count:,})",
            "Contacts with no relationship at all (first 100).",
            pn.widgets.Tabulator(frame, show_index=False, disabled=True, page_size=10, pagination="local"),
        )

    @param.depends("workspace.revision")
    def _single(self):
        import pandas as pd

        rows = model.single_threaded_deals(self.workspace, limit=100)
        cols = ["title", "organization", "stage", "amount", "threads", "thread_contact"]
        return pn.Column(
            "### Single-threaded deals",
            "Open deals whose organization is reached through one contact (threads = 1) or none (0).",
            pn.widgets.Tabulator(
                pd.DataFrame(rows, columns=cols), show_index=False, disabled=True, page_size=10, pagination="local"
            ),
        )

    @param.depends("workspace.revision")
    def _inferred(self):
        rows = model.inferred_ties(self.workspace, limit=15)
        items: list[Any] = [
            "### Suggested ties",
            "People with activities on the same deal, or a meeting/email with the same organization on the same day.",
        ]
        for r in rows:
            button = pn.widgets.Button(label="Accept", color="success", width=80)
            button.on_click(lambda _e, r=r: self._accept(r))
            items.append(
                pn.Row(
                    pn.pane.HTML(
                        f"{_text(r['source_name'])} ↔ {_text(r['target_name'])}"
                        f" <small>({r['shared']} shared: {_text(r['occasions'])})</small>",
                        sizing_mode="stretch_width",
                    ),
                    button,
                    sizing_mode="stretch_width",
                )
            )
        if not rows:
            items.append("No suggestions.")
        return pn.Column(*items, sizing_mode="stretch_width")

    def _accept(self, row: dict) -> None:
        try:
            model.accept_inferred(self.workspace, row["source_id"], row["target_id"], row["shared"])
            if pn.state.notifications is not None:
                pn.state.notifications.success(
                    f"{row['source_name']} works with {row['target_name']}: relationship added", duration=4000
                )
        except CrmError as error:
            _notify_error(error)

    def __panel__(self):
        return pn.Column(
            pn.Row(self._connectors, self._isolated, sizing_mode="stretch_width"),
            pn.Row(self._single, self._inferred, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )
