"""Helpers every pipeline view uses: notifications, small HTML tables of rows, widgets bound to params."""

from __future__ import annotations

import html
from datetime import UTC, datetime
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


#: the people on a deal and its timeline, as html_table columns: {column: label}
PERSON_COLUMNS = {"name": "Name", "title": "Job title", "email": "Email", "phone": "Phone"}
TIMELINE_COLUMNS = {"at": "When", "kind": "What", "subject": "Subject", "who": "By"}

#: columns holding a time, shown as "3 days ago" with the exact time on hover
TIME_COLUMNS = frozenset({"at", "due_at", "changed_at"})


def _cell(row: dict[str, Any], column: str) -> str:
    if column == "name" and "name" not in row:
        value: Any = " ".join(p for p in (row.get("first_name"), row.get("last_name")) if p)
    else:
        value = row.get(column)
    if value is None:
        return ""  # 0 is a value (the first stage's position)
    if column in TIME_COLUMNS and isinstance(value, str) and value:
        return f"<span title='{html.escape(value)}'>{html.escape(ago(value))}</span>"
    return html.escape(str(value))


def ago(iso: str, now: datetime | None = None) -> str:
    """An ISO time as people say it: "just now", "5 minutes ago", "3 days ago", "in 2 days", or its date."""
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = ((now or datetime.now(UTC)) - moment).total_seconds()
    future, seconds = seconds < 0, abs(seconds)
    for size, unit in ((86400 * 30, None), (86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            if unit is None:
                return moment.strftime("%-d %b %Y")
            count = int(seconds // size)
            text = f"{count} {unit}{'s' if count != 1 else ''}"
            return f"in {text}" if future else f"{text} ago"
    return "just now"


def html_table(rows: list[dict[str, Any]], columns: dict[str, str] | list[str]) -> str:
    """Rows as an escaped HTML table, ``columns`` as {column: label}: cheaper than a Tabulator for a few rows."""
    labels = columns if isinstance(columns, dict) else {c: c for c in columns}
    if not rows:
        return "<div style='color:#5f6b7a;font-size:13px'>None yet.</div>"
    head = "".join(f"<th style='text-align:left;padding:2px 8px'>{html.escape(t)}</th>" for t in labels.values())
    body = "".join(
        "<tr>" + "".join(f"<td style='padding:2px 8px'>{_cell(r, c)}</td>" for c in labels) + "</tr>" for r in rows
    )
    return f"<table style='border-collapse:collapse;font-size:13px'><tr>{head}</tr>{body}</table>"


def bound(widget: type[WidgetT], parameter: param.Parameter, **params: Any) -> WidgetT:
    """``widget.from_param(parameter, ...)`` without the help icon the param's doc would add.

    The label already says it, and each icon is one more Bokeh model a session builds.
    """
    if "description" in widget.param:
        params.setdefault("description", None)
    return widget.from_param(parameter, **params)
