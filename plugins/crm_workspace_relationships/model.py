"""The relationship pages' state in params (no widgets here): map filters, selection, path, editor.

Views bind widgets to these params with ``from_param`` and react with ``param.depends``;
the SQL is in ``queries``/``org_chart``/``editing``, the graph work in ``network``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import param

from crm_workspace import CrmError, NotFound, Workspace

from . import editing, frames, network, queries
from .focus import FocusDrawing, default_focus, focus_drawing
from .network import KINDS, NODE_TYPES
from .org_chart import org_chart

if TYPE_CHECKING:
    import pandas as pd


class MapModel(param.Parameterized):
    """What the map shows: a focus and the nodes grown from it, filters, selection and path."""

    workspace = param.ClassSelector(class_=Workspace)
    focus = param.String(default=None, allow_None=True, doc="the node in the middle of the map")
    expanded = param.List(default=[], doc="nodes whose neighbours are shown too (clicked on the map)")
    stakeholder_types = param.ListSelector(default=[], objects=list(NODE_TYPES), label="Stakeholder types")
    organization_id = param.Integer(default=None, allow_None=True, label="Organization", doc="None: all")
    kinds = param.ListSelector(default=[], objects=list(KINDS), label="Relationship kinds")
    min_strength = param.Integer(default=1, bounds=(1, 5), label="Minimum strength")
    hops = param.Integer(default=1, bounds=(1, 2), label="Hops from the focus")
    selected = param.String(default=None, allow_None=True, doc="the node shown in the side panel")
    origin = param.String(default=None, allow_None=True, doc="where the introduction path starts")
    path = param.List(default=[], doc="the nodes of the highlighted introduction path")
    path_error = param.String(default="")
    status = param.String(default="", doc="what the last drawing shows (nodes, connections, capped)")

    #: the params that change which nodes are drawn
    DRAWN_BY = ("focus", "expanded", "stakeholder_types", "organization_id", "kinds", "min_strength", "hops", "path")

    def __init__(self, **params: Any):
        super().__init__(**params)
        if self.origin is None:
            self.origin = queries.user_contact(self.workspace)
        if self.focus is None:
            self.focus = default_focus(self.state(), [self.selected, self.origin])
        elif self.selected is None:
            self.selected = self.focus

    def search(self, text: str) -> list[dict[str, Any]]:
        return queries.search_nodes(self.workspace, text, limit=25)

    def organization_choices(self, text: str, current: int | None = None) -> dict[str, int]:
        """The organizations to offer in the filter for the typed ``text``: ``{label: id}``."""
        return queries.organization_choices(self.workspace, text, current)

    def label(self, node: str) -> str:
        return network.label(self.workspace, node)

    def find(self, node: str | None) -> None:
        """A node found by name: the map starts again from it."""
        if node:
            self.focus_on(node)

    @staticmethod
    def resolve(workspace: Workspace, node: str) -> str:
        """The map node a link names: ``deals:5`` is the deal's organization; NotFound when unknown."""
        table, _, row_id = str(node).partition(":")
        if table == "deals" and row_id.isdigit():
            node = queries.deal_focus(workspace, int(row_id))
        queries.parse_node(node)
        if node not in network.state(workspace).graph:
            raise NotFound(f"{node} is not on the map")
        return node

    def focus_on(self, node: str) -> None:
        """Start the map from ``node`` (a contact, organization or deal); NotFound when unknown."""
        node = self.resolve(self.workspace, node)
        self.param.update(focus=node, expanded=[], selected=node)

    def tap(self, node: str) -> None:
        """A click on a node: select it and show its neighbours too (the map grows)."""
        changes: dict[str, Any] = {"selected": node}
        if node != self.focus and node not in self.expanded:
            changes["expanded"] = [*self.expanded, node]
        self.param.update(changes)

    def collapse(self) -> None:
        """Back to the focus and its rings only."""
        self.expanded = []

    def filters(self) -> network.Filters:
        return network.Filters(
            stakeholder_types=tuple(self.stakeholder_types),
            organization_id=self.organization_id,
            kinds=tuple(self.kinds),
            min_strength=self.min_strength,
        )

    def state(self) -> network.GraphState:
        return network.state(self.workspace)

    def drawing(self) -> FocusDrawing:
        """The focused subgraph to draw now (updates ``status``); NotFound when the focus left the map."""
        st = self.state()
        if self.focus is None:
            raise NotFound("The map is empty: add contacts or organizations first.")
        drawn = focus_drawing(st, self.filters(), self.focus, self.hops, self.expanded, self.path, self.selected)
        self.status = f"Centred on {network.label(st, self.focus)}: {drawn.message}"
        return drawn

    def reach(self) -> None:
        """Find the introduction path from ``origin`` to the selected node."""
        target, origin = self.selected, self.origin
        if not target or not origin:
            self.param.update(path=[], path_error="Choose where to start and select a target on the map first.")
            return
        try:
            steps = network.introduction_path(self.state().graph, origin, target)
        except CrmError as error:
            self.param.update(path=[], path_error=str(error))
            return
        self.param.update(path=[origin] + [s["to"] for s in steps], path_error="")

    def clear_path(self) -> None:
        self.param.update(path=[], path_error="")

    def steps(self) -> list[dict[str, Any]]:
        """The current path's steps, recomputed on today's graph (NotFound when it broke)."""
        return network.introduction_path(self.state().graph, self.path[0], self.path[-1])

    def record(self) -> dict[str, Any] | None:
        """The selected node's card: its graph data and its row, or None when it is gone."""
        data = self.state().graph.nodes.get(self.selected) if self.selected else None
        if data is None:
            return None
        return {**data, "row": queries.record(self.workspace, self.selected)}


class OrgChartModel(param.Parameterized):
    """The organization whose reporting lines are shown."""

    workspace = param.ClassSelector(class_=Workspace)
    organization_id = param.Integer(default=None, allow_None=True, label="Organization")

    def organization_choices(self, text: str, current: int | None = None) -> dict[str, int]:
        """The organizations to offer for the typed ``text``: ``{label: id}``."""
        return queries.organization_choices(self.workspace, text, current)

    def roots(self) -> list[dict[str, Any]]:
        return org_chart(self.workspace, self.organization_id)


class EditorModel(param.Parameterized):
    """One node's relationships and the two forms over them: change one, add one."""

    workspace = param.ClassSelector(class_=Workspace)
    node = param.String()
    relationship = param.Selector(default=None, objects=[], allow_None=True, label="Relationship")
    kind = param.Selector(default="works_with", objects=list(KINDS), label="Kind")
    strength = param.Integer(default=3, bounds=(1, 5), label="Strength")
    notes = param.String(default="", label="Notes")
    target = param.String(default=None, allow_None=True, doc="the other end of a new relationship")
    new_kind = param.Selector(default="works_with", objects=list(KINDS), label="Kind")
    new_strength = param.Integer(default=3, bounds=(1, 5), label="Strength")
    new_notes = param.String(default="", label="Notes")

    def __init__(self, **params: Any):
        super().__init__(**params)
        self.rows: dict[int, dict[str, Any]] = {}
        #: (id, version) of the relationship in the form: the version the user saw decides conflicts
        self.loaded: tuple[int, int] | None = None

    def search(self, text: str) -> list[dict[str, Any]]:
        return queries.search_nodes(self.workspace, text, limit=25)

    def refresh(self) -> list[dict[str, Any]]:
        """Reload the node's relationships, keeping a form the user is editing."""
        rows = queries.relationships_of(self.workspace, self.node)
        self.rows = {r["id"]: r for r in rows}
        self.param.relationship.objects = {describe(r): r["id"] for r in rows}
        if rows:
            if self.relationship not in self.rows:
                self.relationship = rows[0]["id"]
            if self.loaded is None or self.loaded[0] not in self.rows:
                self.load()
        return rows

    @param.depends("relationship", watch=True)
    def load(self) -> None:
        """Put the chosen relationship in the form, remembering the version the user saw."""
        row = self.rows.get(self.relationship)
        self.loaded = (row["id"], row["version"]) if row else None
        if row:
            self.param.update(kind=row["kind"], strength=row["strength"] or 3, notes=row["notes"])

    def _reload(self) -> None:
        """After a write: the rows as stored now; the form holds no version until it loads again."""
        self.rows = {r["id"]: r for r in queries.relationships_of(self.workspace, self.node)}
        self.loaded = None

    def save(self) -> None:
        if not self.loaded:
            return
        rel_id, version = self.loaded
        changes = {"kind": self.kind, "strength": self.strength, "notes": self.notes or None}
        editing.update_relationship(self.workspace, rel_id, changes, version)
        self._reload()
        self.load()

    def remove(self) -> None:
        if not self.loaded:
            return
        rel_id, version = self.loaded
        editing.delete_relationship(self.workspace, rel_id, version)
        self._reload()

    def add(self) -> None:
        if not self.target:
            raise CrmError("choose the other contact or organization first")
        editing.add_relationship(
            self.workspace, self.node, self.target, self.new_kind, self.new_strength, self.new_notes
        )


def describe(row: dict[str, Any]) -> str:
    """``"works_with → Ann Lee (4)"``: one relationship as the editor lists it."""
    arrow = "→" if row["direction"] == "out" else "←"
    return f"{row['kind']} {arrow} {row['other_name']} ({row['strength']})"


class AnalysisModel(param.Parameterized):
    """The analysis tab's tables: connectors, isolated people, single-threaded deals, suggestions."""

    workspace = param.ClassSelector(class_=Workspace)

    def connectors(self, top: int = 25) -> pd.DataFrame:
        frame = frames.connectors(self.workspace, top=top)
        frame = frame[["name", "stakeholder_type", "organization", "betweenness", "cut", "ties"]]
        return frame.rename(columns={"cut": "articulation point"})

    def isolated(self, limit: int = 100) -> pd.DataFrame:
        return frames.isolated(self.workspace, limit=limit)

    def isolated_count(self) -> int:
        return queries.isolated_count(self.workspace)

    def single_threaded(self, limit: int = 100) -> pd.DataFrame:
        frame = frames.single_threaded(self.workspace, limit=limit)
        return frame[["title", "organization", "stage", "amount", "currency", "threads", "thread_contact"]]

    def suggestions(self, limit: int = 15) -> list[dict[str, Any]]:
        return queries.inferred_ties(self.workspace, limit=limit)

    def accept(self, row: dict[str, Any]) -> dict[str, Any]:
        return editing.accept_inferred(self.workspace, row["source_id"], row["target_id"], row["shared"])
