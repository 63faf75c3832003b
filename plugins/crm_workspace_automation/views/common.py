"""Small helpers of the Automation page: escaped HTML tables, notices, toasts."""

from __future__ import annotations

import html
import re
from typing import Any

import panel as pn

READ_ONLY_TIP = "Read-only: your role lets you view automation, not change it"


def table(rows: list[dict[str, Any]], columns: dict[str, str], css: str) -> str:
    """Rows as an HTML table; every value escaped (URLs, names and errors come from users and receivers)."""
    if not rows:
        return f"<p class='{css} auto-empty'>Nothing yet.</p>"
    head = "".join(f"<th>{html.escape(label)}</th>" for label in columns.values())
    body = "".join(
        "<tr>"
        + "".join(
            f"<td class='auto-{html.escape(c)}'>{'' if row.get(c) is None else html.escape(str(row.get(c)))}</td>"
            for c in columns
        )
        + "</tr>"
        for row in rows
    )
    # the style travels with the table: each pane draws in its own shadow root
    return f"<style>{STYLE}</style><table class='{css} auto-table'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


def alert(text: str, kind: str = "warning") -> pn.pane.Alert:
    """An alert showing ``text`` as typed: HTML escaped and Markdown's punctuation too (names are users')."""
    return pn.pane.Alert(_MARKDOWN.sub(r"\\\1", html.escape(text)), alert_type=kind, sizing_mode="stretch_width")


def notify(kind: str, message: str) -> None:
    if pn.state.notifications is not None:
        getattr(pn.state.notifications, kind)(message, duration=8000)


STYLE = """
.auto-table { border-collapse: collapse; font-size: 13px; width: 100%; }
.auto-table th, .auto-table td { border-bottom: 1px solid #e5e5e5; padding: 4px 8px; text-align: left;
  vertical-align: top; }
.auto-table th { background: #f6f6f6; }
.auto-state { font-weight: 600; }
"""
