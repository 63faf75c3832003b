"""Choose one record of many by typing part of its name: searched on the server, picked from a select.

A workspace may hold tens of thousands of organizations or contacts. A select of them
all is too long to send; an autocomplete filters in the browser the options it was last
sent, so the first letters typed (or a pasted name) showed nothing until the next key,
and an emptied box kept its old choice. Here each keystroke is searched on the server
and the matches are a select, whose first entry chooses nothing.
"""

from __future__ import annotations

import logging
from typing import Any

import panel as pn
import param

log = logging.getLogger(__name__)


class RecordPicker(pn.viewable.Viewer):
    """Type part of a name, pick a record from the matches: ``value`` is its id, or None.

    ``choices(text, current)`` gives ``{label: id}`` of the records matching the typed
    text (a model's method), the record ``current`` among them when it exists; it is
    called with the text and None as typed, and with blank text and the chosen id to
    name the chosen record (blank text need match nothing else). The matches
    are a select whose first entry is ``none_label`` (None); a single match of what was
    typed is chosen at once. A record that no longer exists shows as "#id (no longer exists)".
    """

    choices = param.Callable(doc="(text, current id) -> {label: id}")
    value = param.Integer(default=None, allow_None=True)
    label = param.String(default="")
    none_label = param.String(default="(none)", doc="The matches' first entry, which chooses None.")
    query = param.String(default="", doc="the text as typed")

    @classmethod
    def from_param(cls, parameter: param.Parameter, **params: Any) -> RecordPicker:
        """A picker whose ``value`` follows ``parameter`` both ways (like a widget's ``from_param``)."""
        params.setdefault("label", parameter.label)
        return bind_value(cls(value=getattr(parameter.owner, parameter.name), **params), parameter)

    def __init__(self, **params: Any):
        width = params.pop("width", 270)
        super().__init__(**params)
        self._input = pn.widgets.TextInput(label=self.label, placeholder="type part of a name…", width=width)
        self._input.link(self, value_input="query")  # searched while typing, not only on Enter
        # ``none_label`` is 0, not None: Panel's Select shows no label for a None value (ids start at 1)
        self._matches = pn.widgets.Select(options={self.none_label: 0}, value=0, width=width)
        self._matches.param.watch(lambda event: setattr(self, "value", event.new or None), "value")
        self._search()

    @property
    def matches(self) -> dict[str, int | None]:
        """What the select offers now: ``{label: id}``, ``none_label`` first (None)."""
        return {text: value or None for text, value in self._matches.options.items()}

    def clear_search(self) -> None:
        """Empty the box and its matches (a form showing another record), keeping the choice."""
        self._input.param.update(value="", value_input="")

    def _current(self) -> dict[str, int]:
        """``{label: id}`` of the chosen record alone; "#id (no longer exists)" for a deleted one."""
        try:
            found = {text: value for text, value in self.choices("", self.value).items() if value == self.value}
        except Exception:  # the select must still show the chosen id, not the record shown before
            log.exception("could not name record #%s", self.value)
            return {f"#{self.value}": self.value}
        return found or {f"#{self.value} (no longer exists)": self.value}

    def _options(self, found: dict[str, int]) -> dict[str, int]:
        """``none_label``, the chosen record, then ``found``."""
        chosen = self._current() if self.value is not None and self.value not in found.values() else {}
        return {self.none_label: 0, **chosen, **found}

    @param.depends("query", watch=True)
    def _search(self) -> None:
        found = self.choices(self.query, None) if self.query.strip() else {}
        self._matches.options = self._options(found)
        if self.query.strip() and len(found) == 1:
            self.value = next(iter(found.values()))  # the one match of what was typed
        self._show()

    @param.depends("value", watch=True)
    def _show(self) -> None:
        if (self.value or 0) not in self._matches.options.values():  # chosen elsewhere (a form loaded, a panel)
            self._matches.options = self._options({k: v for k, v in self._matches.options.items() if v})
        self._matches.value = self.value or 0

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self._input, self._matches, sizing_mode="stretch_width", margin=0)


def bind_value(picker: Any, parameter: param.Parameter) -> Any:
    """``picker.value`` and ``parameter`` kept equal, each following the other; returns ``picker``."""
    owner, name = parameter.owner, parameter.name
    picker.param.watch(lambda event: setattr(owner, name, event.new), "value")
    owner.param.watch(lambda event: setattr(picker, "value", event.new), name)
    return picker
