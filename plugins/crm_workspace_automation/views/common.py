"""Small helpers of the Automation page: escaped HTML tables, notices, toasts."""

from __future__ import annotations

import html
import re
from typing import Any

import panel as pn

from crm_workspace.web.display import html_table, times_text

READ_ONLY_TIP = "Read-only: your role lets you view automation, not change it"


def table(rows: list[dict[str, Any]], columns: dict[str, str], css: str) -> str:
    """Rows as the core's escaped table (URLs, names and errors come from users and receivers), times humanised;
    each cell has the class ``auto-<column>``."""
    # the style travels with the table: each pane draws in its own shadow root
    return f"<style>{STYLE}</style>" + html_table(
        rows, columns, empty="Nothing yet.", css=f"{css} auto-table", cell_class="auto-"
    )


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


def alert(text: str, kind: str = "warning") -> pn.pane.Alert:
    """An alert showing ``text`` as typed (times in it humanised): HTML escaped and Markdown's punctuation too
    (names are users')."""
    shown = html.escape(times_text(text))
    return pn.pane.Alert(_MARKDOWN.sub(r"\\\1", shown), alert_type=kind, sizing_mode="stretch_width")


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
