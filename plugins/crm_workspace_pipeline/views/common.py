"""Helpers every pipeline view uses: notifications, small HTML tables of rows, widgets bound to params."""

from __future__ import annotations

from typing import Any, TypeVar

import panel as pn
import param

from crm_workspace.web import display

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


#: the people on a deal and its timeline, as html_table columns: {column: label}
PERSON_COLUMNS = {"name": "Name", "title": "Job title", "email": "Email", "phone": "Phone"}
TIMELINE_COLUMNS = {"at": "When", "kind": "What", "subject": "Subject", "who": "By"}


def html_table(rows: list[dict[str, Any]], columns: dict[str, str] | list[str]) -> str:
    """``display.html_table`` (escaped, times humanised), a person's "name" made of their first and last name."""
    return display.html_table([_named(r) for r in rows], columns)


def _named(row: dict[str, Any]) -> dict[str, Any]:
    if "name" in row or not ("first_name" in row or "last_name" in row):
        return row
    return {**row, "name": " ".join(p for p in (row.get("first_name"), row.get("last_name")) if p)}


def bound(widget: type[WidgetT], parameter: param.Parameter, **params: Any) -> WidgetT:
    """``widget.from_param(parameter, ...)`` without the help icon the param's doc would add.

    The label already says it, and each icon is one more Bokeh model a session builds.
    """
    if "description" in widget.param:
        params.setdefault("description", None)
    return widget.from_param(parameter, **params)
