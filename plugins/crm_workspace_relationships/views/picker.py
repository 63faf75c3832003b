"""Find a contact or organization by typing part of its name."""

from __future__ import annotations

from typing import Any

import panel as pn
import param


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
        return _bound(cls(value=getattr(parameter.owner, parameter.name), **params), parameter)

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


class OrganizationPicker(pn.viewable.Viewer):
    """Type part of a name, pick an organization from the matches: ``value`` is its id, or None.

    ``choices(text, current)`` gives ``{label: id}`` of the organizations matching the typed
    text (a model's method, searched on the server: a workspace may have tens of thousands,
    and the browser's own filtering of a list would neither ignore accents nor keep up with
    the typing). The matches are a select whose first entry is ``none_label`` (None: all
    organizations in a filter); a single match is chosen at once, as ``NodePicker`` does.
    """

    choices = param.Callable(doc="(text, current id) -> {label: id}")
    value = param.Integer(default=None, allow_None=True)
    label = param.String(default="Organization")
    none_label = param.String(default="(all organizations)", doc="The matches' first entry, which chooses None.")
    query = param.String(default="", doc="the text as typed")

    @classmethod
    def from_param(cls, parameter: param.Parameter, **params: Any) -> OrganizationPicker:
        """A picker whose ``value`` follows ``parameter`` both ways (like a widget's ``from_param``)."""
        params.setdefault("label", parameter.label)
        return _bound(cls(value=getattr(parameter.owner, parameter.name), **params), parameter)

    def __init__(self, **params: Any):
        width = params.pop("width", 270)
        super().__init__(**params)
        self._input = pn.widgets.TextInput(label=self.label, placeholder="type part of a name…", width=width)
        self._input.link(self, value_input="query")  # searched while typing, not only on Enter
        # ``none_label`` is 0, not None: Panel's Select shows no label for a None value (ids start at 1)
        self._matches = pn.widgets.Select(options={self.none_label: 0}, value=0, width=width)
        self._matches.param.watch(lambda event: setattr(self, "value", event.new or None), "value")
        self._search()

    def _options(self, found: dict[str, int]) -> dict[str, int]:
        """``none_label``, the chosen organization, then ``found``."""
        chosen = {}
        if self.value is not None and self.value not in found.values():
            chosen = self.choices("", self.value) or {f"#{self.value} (no longer exists)": self.value}
        return {self.none_label: 0, **chosen, **found}

    @param.depends("query", watch=True)
    def _search(self) -> None:
        found = self.choices(self.query, None)
        self._matches.options = self._options(found)
        if self.query.strip() and len(found) == 1:
            self.value = next(iter(found.values()))  # the one match of what was typed
        self._show()

    @param.depends("value", watch=True)
    def _show(self) -> None:
        if (self.value or 0) not in self._matches.options.values():  # chosen elsewhere (the map's side panel)
            self._matches.options = self._options({k: v for k, v in self._matches.options.items() if v})
        self._matches.value = self.value or 0

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self._input, self._matches, sizing_mode="stretch_width", margin=0)


def _bound(picker: Any, parameter: param.Parameter) -> Any:
    """``picker.value`` and ``parameter`` kept equal, each following the other."""
    owner, name = parameter.owner, parameter.name
    picker.param.watch(lambda event: setattr(owner, name, event.new), "value")
    owner.param.watch(lambda event: setattr(picker, "value", event.new), name)
    return picker
