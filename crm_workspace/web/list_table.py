"""Read-only lists as one light ESM component instead of Panel's Tabulator.

A page's lists (contacts, tickets, campaigns, the audit trail) are read, sorted, clicked
and ticked, never edited in place. Tabulator costs each one dearly: three Bokeh models a
column (column, formatter, editor, even read-only), and in the browser a build and two
full redraws while the page loads (Panel redraws it after the layout and again after its
styles): on the service queue ~370 ms of the browser's ~1.5 s page load (Chromium's
profiler). ``ListTable`` sends its rows as one JSON text and list_table.js draws them as
one HTML table, once: the same columns, widths and titles, sorting by a header's click,
pages of ``page_size`` rows, ticks for ``selectable`` rows, a click on a row reported to
``on_click``, and on a phone each row as a card whose cells say their column's title.

``Table`` (crm_workspace/web/tables.py) stays for the grids edited in place.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import param
from panel.custom import JSComponent

from crm_workspace.web.display import label

#: what a column's ``formatters`` entry may be: "html" (the value is trusted HTML the server built,
#: e.g. ``when_html``), "wrap" (long text on several lines), or a function from the value to the text shown
Formatter = str | Callable[[Any], str]

CSS = """
:host {font-size: 13px;}
.lt-root {display: flex; flex-direction: column; height: 100%; min-height: 0;}
.lt-wrap {flex: 1 1 auto; overflow: auto; min-height: 0; border: 1px solid #dde2e8; border-radius: 4px;
  background: white;}
.lt-table {width: 100%; border-collapse: separate; border-spacing: 0; table-layout: fixed;}
.lt-table th {position: sticky; top: 0; z-index: 1; background: #f4f6f8; color: #1f2a37; font-weight: 600;
  text-align: left; padding: 6px 8px; border-bottom: 1px solid #c8ced6; cursor: pointer; user-select: none;
  vertical-align: bottom; overflow: hidden; text-overflow: ellipsis;}
.lt-table td {padding: 5px 8px; border-bottom: 1px solid #eef1f4; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis;}
.lt-table td.lt-wrapped {white-space: pre-wrap; overflow-wrap: anywhere;}
.lt-table .lt-right {text-align: right;}
.lt-table .lt-center {text-align: center;}
.lt-table tbody tr:nth-child(even) {background: #fafbfc;}
.lt-clickable tbody tr.lt-row {cursor: pointer;}
.lt-clickable tbody tr.lt-row:hover, .lt-clickable tbody tr.lt-row:focus {background: #e8f0f8; outline: none;}
.lt-check-col {width: 34px;}
.lt-table .lt-check {text-align: center; padding: 0; cursor: default;}
.lt-empty td {color: #5f6b7a; text-align: center; padding: 14px;}
.lt-pager {display: flex; gap: 10px; align-items: center; padding: 6px 0 0;}
.lt-pager:empty {display: none;}
.lt-pager button {border: 1px solid #c8ced6; background: white; border-radius: 4px; padding: 3px 10px;
  cursor: pointer;}
.lt-pager button:disabled {opacity: 0.5; cursor: default;}
@media (max-width: 760px) {
  /* a phone: each row a card, each cell with its column's title before the value */
  .lt-table, .lt-table tbody {display: block;}
  .lt-table colgroup, .lt-table thead {display: none;}
  .lt-table tr.lt-row {display: flex; flex-wrap: wrap; align-items: baseline; padding: 6px 4px;
    border-bottom: 1px solid #dde2e8;}
  .lt-table tr.lt-row td {display: inline-flex; align-items: baseline; border: none; padding: 1px 10px 1px 0;
    white-space: normal; overflow-wrap: anywhere; text-align: left; max-width: 100%;}
  .lt-table tr.lt-row td:nth-child(-n+3) {font-weight: 600;}
  .lt-table tr.lt-row td[data-label]::before {content: attr(data-label); color: #5f6b7a; font-weight: 400;
    font-size: 0.85em; margin-right: 0.35em; flex: none;}
  .lt-table tr.lt-row td:empty {display: none;}
}
"""


@dataclass(frozen=True)
class RowClick:
    """A click on a row: its position in ``value`` (whatever the order shown) and the column's field."""

    row: int
    column: str | None
    value: Any


class ListTable(JSComponent):
    """A read-only table of a DataFrame's rows, drawn in the browser as one HTML table.

    ``titles`` (field -> heading; default: the field in words), ``widths`` (field -> CSS
    width, "20%" or pixels), ``formatters`` (field -> "html" or a function to text),
    ``text_align`` (field -> "left"/"right"/"center"; numbers are right-aligned),
    ``cell_styles`` (field -> function from the value to a CSS declaration, e.g. a colour),
    ``hidden_columns``, ``row_key`` (the column naming a row's record). ``value`` may be set again at
    any time (a refresh): the ticks are kept for the rows whose ``row_key`` is still there (cleared
    without one), and the order a person chose by a heading is kept while the columns stay the same.

    Ticks and clicks name rows by position, so each new set of rows is numbered (``v`` in the payload)
    and the browser sends a tick or a click with the number of the rows it showed. One sent while a
    refresh was on its way names a row of the old rows: with a ``row_key`` it is applied to that
    record's row (the browser sends the records' keys too), without one it is ignored, never applied
    to whichever row now has that position.
    """

    payload = param.String(default="{}", doc="The columns and rows as JSON, which list_table.js draws.")
    selectable = param.Boolean(default=False, doc="Each row has a tick box (``selection``).")
    selection = param.List(default=[], item_type=int, doc="Positions in ``value`` of the ticked rows.")
    answered = param.Integer(default=0, doc="The browser's last tick message applied (list_table.js).")
    page_size = param.Integer(default=0, bounds=(0, None), doc="Rows a page (0: all, scrolled).")
    clickable = param.Boolean(default=False, doc="Rows open something (set by ``on_click``).")
    empty = param.String(default="Nothing to show", doc="What an empty table says.")

    _esm = Path(__file__).with_name("list_table.js")
    #: served as a file the browser caches and imports as it is: plain JavaScript, nothing for Panel to
    #: transpile in the browser on every page load (sucrase: ~30 ms a module)
    _bundle = "list_table.js"
    _stylesheets = [CSS]  # noqa: RUF012 - Panel's class attribute

    def __init__(
        self,
        value: pd.DataFrame | None = None,
        *,
        titles: Mapping[str, str] | None = None,
        widths: Mapping[str, str | int] | None = None,
        formatters: Mapping[str, Formatter] | None = None,
        text_align: Mapping[str, str] | None = None,
        cell_styles: Mapping[str, Callable[[Any], str]] | None = None,
        hidden_columns: tuple[str, ...] | list[str] = (),
        row_key: str | None = None,
        **params: Any,
    ):
        super().__init__(**params)
        self.titles = dict(titles or {})
        self.widths = dict(widths or {})
        self.formatters = dict(formatters or {})
        self.text_align = dict(text_align or {})
        self.cell_styles = dict(cell_styles or {})
        self.hidden_columns = tuple(hidden_columns)
        #: the column naming a row's record (e.g. "id"): its ticks survive new rows that still hold it
        self.row_key = row_key
        self._clicks: list[Callable[[RowClick], Any]] = []
        self._value: pd.DataFrame | None = None
        self._version = 0  # which rows the browser's positions refer to (``_handle_msg``)
        self._sent = ""  # the rows last sent, without their number: the same rows again keep it
        self._rows_of: dict[str, int] = {}  # row_key (as text) -> position in value
        self.value = value

    @property
    def value(self) -> pd.DataFrame | None:
        """The rows shown (a DataFrame; None shows nothing). Setting it clears the ticks, but for the rows
        whose ``row_key`` was ticked: a refresh while someone ticks rows keeps their choice."""
        return self._value

    @value.setter
    def value(self, frame: pd.DataFrame | None) -> None:
        key = self.row_key
        records = frame[key].tolist() if key and frame is not None and key in frame.columns else None
        kept: list[int] = []
        if records is not None and self.selection:
            ticked = set(self.selected_dataframe.get(key, pd.Series(dtype=object)).tolist())
            kept = [i for i, v in enumerate(records) if v in ticked]
        self._value = frame
        payload = self._payload(frame)
        if records is not None:
            payload["ids"] = [str(v) for v in records]
        self._rows_of = {k: i for i, k in enumerate(payload.get("ids", []))}
        sent = _json(payload)
        if sent != self._sent:  # a refresh with the same rows leaves the browser's positions right
            self._sent, self._version = sent, self._version + 1
        self.param.update(payload=_json({**payload, "v": self._version}), selection=kept)

    @property
    def selected_dataframe(self) -> pd.DataFrame:
        """The ticked rows of ``value``."""
        if self._value is None:
            return pd.DataFrame()
        return self._value.iloc[[i for i in self.selection if 0 <= i < len(self._value)]]

    def on_click(self, callback: Callable[[RowClick], Any]) -> None:
        """Call ``callback(RowClick)`` when a row is clicked (or Enter pressed on it)."""
        self._clicks.append(callback)
        self.clickable = True

    def _handle_msg(self, msg: Any) -> None:
        """A tick or a row's click from the browser (untrusted: anything malformed is ignored, and so is
        a message about rows since replaced, unless the records' keys it carries find their rows now)."""
        if not isinstance(msg, dict) or self._value is None:
            return
        current = msg.get("v") == self._version
        if msg.get("type") == "select" and self.selectable and type(msg.get("n")) is int:
            rows = msg.get("rows") if current else self._rows_named(msg.get("keys"))
            chosen = self.selection
            if isinstance(rows, list):
                chosen = list(dict.fromkeys(r for r in rows if type(r) is int and 0 <= r < len(self._value)))
            # answered even when nothing changed: the browser then shows the ticks as they are here
            self.param.update(selection=chosen, answered=msg["n"])
            return
        if msg.get("type") != "click":
            return
        row = msg.get("row") if current else next(iter(self._rows_named([msg.get("key")]) or []), None)
        column = msg.get("column")
        if type(row) is not int or not 0 <= row < len(self._value):
            return
        fields = [str(c) for c in self._value.columns]
        if isinstance(column, str) and column in fields:
            event = RowClick(row, column, self._value.iat[row, fields.index(column)])
        else:
            event = RowClick(row, None, None)
        for callback in self._clicks:
            callback(event)

    def _rows_named(self, keys: Any) -> list[int] | None:
        """The positions now of the rows whose ``row_key`` the browser sent (None without a key)."""
        if not self._rows_of or not isinstance(keys, list):
            return None
        return [self._rows_of[k] for k in keys if isinstance(k, str) and k in self._rows_of]

    def _payload(self, frame: pd.DataFrame | None) -> dict[str, Any]:
        if frame is None:
            return {"columns": [], "rows": []}
        shown = [(i, str(c)) for i, c in enumerate(frame.columns) if str(c) not in self.hidden_columns]
        columns, cells, keys, styles = [], [], {}, []
        for position, (index, field) in enumerate(shown):
            series = frame.iloc[:, index]  # by position: names may repeat or not be text
            kind = self.formatters.get(field)
            numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
            align = self.text_align.get(field, "right" if numeric else "left")
            columns.append(
                {
                    "field": field,
                    "title": str(self.titles.get(field, label(field))),
                    "width": _width(self.widths.get(field)),
                    "align": align if align in ALIGNMENTS else "left",
                    "html": kind == "html",
                    "wrap": kind == "wrap",
                }
            )
            values = series.tolist()
            if callable(kind):
                cells.append([str(kind(v)) if _given(v) else "" for v in values])
            else:
                plain = field == "id" or field.endswith("_id")  # a record's number: 12345, not 12,345
                cells.append([_text(v, grouped=not plain) for v in values])
            if numeric or callable(kind):
                keys[position] = [_key(v) for v in values]
            if field in self.cell_styles:
                styles.append((position, [str(self.cell_styles[field](v) or "") for v in values]))
        payload: dict[str, Any] = {"columns": columns, "rows": [list(row) for row in zip(*cells, strict=True)]}
        if keys:
            payload["keys"] = keys
        if styles:
            per_cell = [[""] * len(shown) for _ in range(len(frame))]
            for position, column in styles:
                for row, style in enumerate(column):
                    per_cell[row][position] = style
            payload["styles"] = per_cell
        return payload


#: the alignments a column may ask for (anything else is drawn left-aligned)
ALIGNMENTS = ("left", "right", "center")


def _json(payload: dict[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"), allow_nan=False, default=str)


def _given(value: Any) -> bool:
    """Whether a cell has a value (None, NaN, NaT and pandas' NA are blanks)."""
    try:
        return not bool(pd.isna(value))
    except (TypeError, ValueError):  # a list or an array in a cell: shown as it is
        return True


def _text(value: Any, *, grouped: bool = True) -> str:
    """A cell's text: blanks for missing values, numbers grouped ("12,000", "2.5"; at most two decimals)."""
    if not _given(value):
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, float) and not math.isfinite(value):
        return "∞" if value > 0 else "-∞"
    if isinstance(value, int | float):
        text = f"{value:{',' if grouped else ''}.2f}".rstrip("0").rstrip(".")
        return "0" if text == "-0" else text
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _key(value: Any) -> Any:
    """What a column sorts by: finite numbers as numbers, missing values as blanks."""
    if not _given(value):
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value if math.isfinite(value) else None
    return str(value)


def _width(width: str | int | None) -> str | None:
    return f"{width}px" if isinstance(width, int) else width


def number(decimals: int = 0, *, grouped: bool = True) -> Callable[[Any], str]:
    """A formatter: "18,600", or with ``decimals`` places, trailing zeros dropped ("2.5", "3")."""

    def shown(value: Any) -> str:
        text = f"{value:{',' if grouped else ''}.{decimals}f}"
        return text.rstrip("0").rstrip(".") if decimals else text

    return shown


def percent(decimals: int = 1) -> Callable[[Any], str]:
    """A formatter for a share: 0.125 -> "12.5%"."""
    return lambda value: f"{100 * value:.{decimals}f}%"


def list_module_loader() -> ListTable:
    """An empty, hidden ``ListTable`` for the app's frame: the browser compiles list_table.js with the page.

    Panel compiles an ESM component's module when the first one arrives, asynchronously
    (0.5–1 s on a busy 2-core machine). A list that first arrives in a section built after
    the page was shown, and is replaced by a data refresh before that compile ends, left its
    whole section blank: Bokeh's two overlapping updates of the section's children (the
    lifecycle page lost its charts now and then). With the module compiled while the page
    loads, a later list is drawn at once.
    """
    return ListTable(visible=False, width=0, height=0, margin=0)
