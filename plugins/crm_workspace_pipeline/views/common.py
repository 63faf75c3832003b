"""Helpers every pipeline view uses: notifications, small HTML tables of rows, widgets bound to params."""

from __future__ import annotations

import html
from typing import Any, TypeVar

import panel as pn
import param

WidgetT = TypeVar("WidgetT", bound=pn.widgets.Widget)


#: the tooltip of an edit control a read-only user sees disabled
READ_ONLY_TIP = "Read-only: your role lets you view deals, not change them"


def read_only(workspace: Any) -> bool:
    """True when the acting user may change nothing (``Workspace.read_only``): hide or disable edits."""
    return bool(workspace.read_only)


def notify(kind: str, message: str) -> None:
    """A toast in a served session (none in a notebook or a test)."""
    if pn.state.notifications is not None:
        getattr(pn.state.notifications, kind)(message, duration=8000)


def _cell(value: Any) -> str:
    return "" if value is None else str(value)  # 0 is a value (the first stage's position)


def html_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """Rows as an escaped HTML table: cheaper for a session than a Tabulator for a few rows."""
    head = "".join(f"<th style='text-align:left;padding:2px 8px'>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td style='padding:2px 8px'>{html.escape(_cell(r.get(c)))}</td>" for c in columns) + "</tr>"
        for r in rows
    )
    return f"<table style='border-collapse:collapse;font-size:13px'><tr>{head}</tr>{body}</table>"


def bound(widget: type[WidgetT], parameter: param.Parameter, **params: Any) -> WidgetT:
    """``widget.from_param(parameter, ...)`` without the help icon the param's doc would add.

    The label already says it, and each icon is one more Bokeh model a session builds.
    """
    if "description" in widget.param:
        params.setdefault("description", None)
    return widget.from_param(parameter, **params)
