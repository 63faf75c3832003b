"""Small pieces the marketing tabs share: messages, read-only buttons, tables."""

from __future__ import annotations

import html

import panel as pn

from crm_workspace.web.display import when_html
from crm_workspace.web.list_table import ListTable, number, percent

READ_ONLY_TIP = "Viewers cannot change marketing: ask an admin or a member."


def alert(text: str, kind: str = "danger") -> pn.pane.Alert:
    return pn.pane.Alert(html.escape(str(text)), alert_type=kind, margin=(5, 0))


def button(label: str, read_only: bool, *, kind: str = "primary", **options) -> pn.widgets.Button:
    """A button that does nothing for a viewer (disabled, with the reason as its tooltip)."""
    return pn.widgets.Button(
        label=label,
        color=kind,
        disabled=read_only,
        description=READ_ONLY_TIP if read_only else None,
        **options,
    )


# column -> the header a person reads (anything not listed: "some_name" -> "Some name")
LABELS = {
    "unique_opens": "Unique opens",
    "unique_clicks": "Unique clicks",
    "open_rate": "Open rate",
    "click_rate": "Click rate",
    "unsubscribes": "Unsubscribes",
    "waiting_here": "Waiting here",
    "due_now": "Due now",
    "next_due": "Next due",
    "last_run": "Last run",
    "trigger": "Starts when",
}
RATES = ("open_rate", "click_rate", "bounce_rate", "unsubscribe_rate", "conversion_rate", "rate")
NAMES = {
    "name": 210,
    "segment": 170,
    "campaign": 210,
    "sequence": 200,
    "conditions": 320,
    "text": 320,
    "step": 360,
    "error": 320,
    "trigger": 300,
}
#: columns whose text wraps onto more lines instead of being cut off (a trigger's sentence)
WRAPPED = ("trigger",)
TIMES = ("next_due", "last_run", "at", "due", "when")


def is_time(column: str) -> bool:
    return column in TIMES or column.endswith("_at")


def label(column: str) -> str:
    """A column's header: a known label, else the name in words ("next_due" -> "Next due")."""
    return LABELS.get(column) or str(column).replace("_", " ").capitalize()


def table(frame, **options) -> ListTable:
    """A read-only table with labelled headers, rates as percentages and wide, left-aligned names."""
    options.setdefault("sizing_mode", "stretch_width")
    columns = [str(c) for c in getattr(frame, "columns", [])]
    options.setdefault("titles", {c: label(c) for c in columns})
    formatters = {c: percent() for c in columns if c in RATES or c.endswith("_rate")}
    formatters.update({c: "wrap" for c in columns if c in WRAPPED})
    money = [c for c in columns if c == "revenue" or c.endswith(("_revenue", "_pipeline"))]
    formatters.update({c: number() for c in money})  # 18,600, not 18,600.0
    times = [c for c in columns if is_time(c)]
    if times:  # humanised, the exact time on hover
        frame = frame.copy()
        for column in times:
            frame[column] = [when_html(v) if _given(v) else "" for v in frame[column]]
            formatters[column] = "html"
    options.setdefault("formatters", formatters)
    wide = {**NAMES, "unsubscribes": 112}  # the longest one-word header
    options.setdefault("widths", {c: w for c, w in wide.items() if c in columns})
    options.setdefault("text_align", {c: "left" for c in columns if c in NAMES})
    return ListTable(frame, **options)


def _given(value) -> bool:
    return isinstance(value, str) and bool(value)


def say(box: pn.Column, text: str, kind: str = "success") -> None:
    box[:] = [alert(text, kind)]
