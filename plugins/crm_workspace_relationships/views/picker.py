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
        owner, name = parameter.owner, parameter.name
        picker = cls(value=getattr(owner, name), **params)
        picker.param.watch(lambda event: setattr(owner, name, event.new), "value")
        owner.param.watch(lambda event: setattr(picker, "value", event.new), name)
        return picker

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
    """Type part of a name, pick an organization: ``value`` is its id, None for all of them.

    ``choices(text, current)`` gives ``{label: id}`` of the organizations matching the typed
    text (a model's method): a workspace may have tens of thousands, so none is listed until
    something is typed. Emptying the box shows all organizations again.
    """

    choices = param.Callable(doc="(text, current id) -> {label: id}")
    value = param.Integer(default=None, allow_None=True)
    label = param.String(default="Organization")

    @classmethod
    def from_param(cls, parameter: param.Parameter, **params: Any) -> OrganizationPicker:
        """A picker whose ``value`` follows ``parameter`` both ways (like a widget's ``from_param``)."""
        owner, name = parameter.owner, parameter.name
        picker = cls(value=getattr(owner, name), label=parameter.label, **params)
        picker.param.watch(lambda event: setattr(owner, name, event.new), "value")
        owner.param.watch(lambda event: setattr(picker, "value", event.new), name)
        return picker

    def __init__(self, **params: Any):
        width = params.pop("width", 270)
        super().__init__(**params)
        self._input = pn.widgets.AutocompleteInput(
            label=self.label,
            options={},
            value="",
            restrict=True,
            search_strategy="includes",
            case_sensitive=False,
            min_characters=1,
            placeholder="all organizations (type to search)",
            width=width,
        )
        self._input.param.watch(self._search, "value_input")
        self._input.param.watch(self._picked, "value")
        self._show()

    def _search(self, event: param.parameterized.Event) -> None:
        if event.new not in self._input.options:  # a choice being made keeps the options it was made from
            self._input.options = self.choices(event.new or "", self.value)

    def _picked(self, event: param.parameterized.Event) -> None:
        """A choice (an id), or an emptied box (all organizations); text that chose nothing changes nothing."""
        if event.new in ("", None):
            self.value = None
        elif isinstance(event.new, int):
            self.value = event.new

    @param.depends("value", watch=True)
    def _show(self) -> None:
        if self.value is None:
            if self._input.value not in ("", None):
                self._input.value = ""  # the browser's empty box; Bokeh takes no None
        elif self._input.value != self.value:
            if self.value not in self._input.options.values():
                self._input.options = self.choices("", self.value)
            self._input.value = self.value

    def __panel__(self) -> pn.viewable.Viewable:
        return self._input
