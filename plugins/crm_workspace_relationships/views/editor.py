"""A node's relationships: the list, a form to change or remove one, a form to add one.

Used in the map's side panel and as the contact page's "Relationships" section.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import panel as pn
import param

from crm_workspace import CrmError, Workspace
from crm_workspace.web.display import label

from ..model import EditorModel
from .common import notify_error, text
from .picker import NodePicker


class RelationshipEditor(pn.viewable.Viewer):
    """List, add, edit and remove the relationships of ``node`` (state in an ``EditorModel``)."""

    workspace = param.ClassSelector(class_=Workspace)
    node = param.String()
    show_open = param.Boolean(default=True)
    show_map = param.Boolean(default=False, doc="offer a button that opens the map centred on ``node``")
    model = param.ClassSelector(class_=EditorModel)
    message = param.String(default="", doc="the last write's error, shown above the list")

    def __init__(self, **params: Any):
        super().__init__(**params)
        if self.model is None:
            self.model = EditorModel(workspace=self.workspace, node=self.node)
        m = self.model
        kinds = {label(k): k for k in m.param.kind.objects}  # "Works with", not "works_with"
        self._pick = pn.widgets.Select.from_param(m.param.relationship, sizing_mode="stretch_width")
        self._kind = pn.widgets.Select.from_param(m.param.kind, options=kinds)
        self._strength = pn.widgets.IntSlider.from_param(m.param.strength)
        self._notes = pn.widgets.TextInput.from_param(m.param.notes, sizing_mode="stretch_width")
        self._save = pn.widgets.Button(label="Save changes", color="primary")
        self._remove = pn.widgets.Button(label="Remove", color="danger")
        self._target = NodePicker.from_param(m.param.target, search=m.search, label="Add a relationship to")
        self._new_kind = pn.widgets.Select.from_param(m.param.new_kind, options=kinds)
        self._new_strength = pn.widgets.IntSlider.from_param(m.param.new_strength)
        self._new_notes = pn.widgets.TextInput.from_param(m.param.new_notes, sizing_mode="stretch_width")
        self._add = pn.widgets.Button(label="Add relationship", color="success")
        self._message = pn.pane.Alert(
            self.param.message.rx.pipe(text),
            alert_type="danger",
            visible=self.param.message.rx.pipe(bool),
            sizing_mode="stretch_width",
        )
        self._save.on_click(lambda _e: self._write(m.save))
        self._remove.on_click(lambda _e: self._write(m.remove))
        self._add.on_click(lambda _e: self._write(m.add))
        self._on_map = pn.widgets.Button(label="Show on the relationship map", color="light", visible=self.show_map)
        self._on_map.on_click(lambda _e: self.workspace.open_page("relationships", focus=self.node))

    def _write(self, action: Callable[[], None]) -> None:
        """Run a model write; its error (validation, stale version) is shown, not raised."""
        try:
            action()
        except CrmError as error:
            self.message = str(error)
            notify_error(error)
        else:
            self.message = ""

    @param.depends("model.node", "model.workspace.revision")
    def _list(self) -> pn.viewable.Viewable:
        rows = self.model.refresh()
        if not rows:
            return pn.pane.HTML("<p class='rel-none'>No relationships yet.</p>")
        items = "".join(
            f"<li><b>{text(r['kind'].replace('_', ' '))}</b> {'→' if r['direction'] == 'out' else '←'} "
            f"{text(r['other_name'])} <span title='strength'>{'●' * int(r['strength'] or 0)}</span>"
            f"{' — ' + text(r['notes']) if r['notes'] else ''}</li>"
            for r in rows
        )
        return pn.pane.HTML(f"<ul class='rel-list'>{items}</ul>", sizing_mode="stretch_width")

    @param.depends("model.node", "model.workspace.revision")
    def _editor(self) -> pn.viewable.Viewable:
        if not self.model.rows:
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

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            self._message,
            self._on_map,
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
