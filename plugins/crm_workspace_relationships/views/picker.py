"""Find a contact or organization of the map by typing part of its name (an organization alone:
``crm_workspace.web.pickers.RecordPicker``)."""

from __future__ import annotations

from typing import Any

import panel as pn
import param

from crm_workspace.web.pickers import bind_value


class NodePicker(pn.viewable.Viewer):
    """Type part of a name, pick a contact or organization: ``value`` is its node key.

    ``search`` turns the typed text into rows with ``node``, ``name`` and ``detail``
    (a model's ``search`` method); the picker knows no workspace.
    """

    search = param.Callable(doc="text -> [{'node', 'name', 'detail'}, ...]")
    value = param.String(default=None, allow_None=True)
    label = param.String(default="Find")
    text = param.String(default="", doc="the text in the box (entered, or set by ``set``)")
    query = param.String(default="", doc="what is searched: the text as typed, or as entered")
    match = param.Selector(default=None, objects=[None], allow_None=True, doc="the chosen match")

    @classmethod
    def from_param(cls, parameter: param.Parameter, **params: Any) -> NodePicker:
        """A picker whose ``value`` follows ``parameter`` both ways (like a widget's ``from_param``)."""
        return bind_value(cls(value=getattr(parameter.owner, parameter.name), **params), parameter)

    def __init__(self, **params: Any):
        super().__init__(**params)
        self._input = pn.widgets.TextInput.from_param(
            self.param.text, label=self.label, placeholder="type a name…", sizing_mode="stretch_width"
        )
        # search while typing, not only on Enter (typing never writes back into the box)
        self._input.link(self, value_input="query")
        self._matches = pn.widgets.Select.from_param(
            self.param.match, label="", sizing_mode="stretch_width", visible=self.param.query.rx.pipe(bool)
        )

    @param.depends("text", watch=True)
    def _entered(self) -> None:
        self.query = self.text

    @param.depends("query", watch=True)
    def _search(self) -> None:
        rows = self.search(self.query or "")
        options = {f"{r['name']} — {r['detail']}" if r["detail"] else r["name"]: r["node"] for r in rows}
        self.param.match.objects = {"(choose)": None, **options} if options else {"(no match)": None}
        if len(options) == 1:
            self.match = next(iter(options.values()))

    @param.depends("match", watch=True)
    def _pick(self) -> None:
        if self.match:
            self.value = self.match

    def set(self, node: str | None, text: str = "") -> None:
        """Show ``node`` as chosen (``text`` in the box, when given)."""
        self.value = node
        if text:
            self.text = text

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self._input, self._matches, sizing_mode="stretch_width", margin=0)
