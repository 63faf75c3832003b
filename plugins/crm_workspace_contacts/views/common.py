"""What the contacts pages share: the stylesheet, escaping, a person's name, notifications."""

from __future__ import annotations

import html
from typing import Any

import panel as pn

from crm_workspace.web.display import cell_html

E = html.escape
#: the label of "no filter" in a filter's choices (its value is "")
ANY = "(any)"
CSS = """
.crm-tl {border-left: 3px solid #c9d3df; margin: 0 0 8px 6px; padding: 2px 10px;}
.crm-tl .meta {color: #5f6b7a; font-size: 12px;}
.crm-tag {display: inline-block; border-radius: 9px; padding: 0 7px; margin-right: 4px; font-size: 11px;
          background: #eef2f7; color: #334;}
.crm-tag.sales {background: #e3f0ff;} .crm-tag.marketing {background: #fdeee0;} .crm-tag.service {background: #e5f6e9;}
.crm-fields td {padding: 2px 12px 2px 0; vertical-align: top; overflow-wrap: anywhere;}
.crm-fields td:first-child {color: #5f6b7a; overflow-wrap: normal; white-space: nowrap;}
.crm-record-title {overflow-wrap: anywhere; display: -webkit-box; -webkit-line-clamp: 3; line-clamp: 3;
                   -webkit-box-orient: vertical; overflow: hidden;}
.crm-tl {overflow-wrap: anywhere;}
"""


def name_of(row: dict) -> str:
    """A contact's display name, or its id when it has none."""
    return f"{row.get('first_name') or ''} {row.get('last_name') or ''}".strip() or f"#{row.get('id')}"


#: the tooltip of an edit control a read-only user sees disabled
READ_ONLY_TIP = "Read-only: your role lets you view this record, not change it"


def read_only(workspace: Any) -> bool:
    """True when the acting user may change nothing (``Workspace.read_only``): hide or disable edits."""
    return bool(workspace.read_only)


def notify(message: str, kind: str = "error") -> None:
    """A toast in a served page; nothing in a notebook or a test."""
    if pn.state.notifications is not None:
        getattr(pn.state.notifications, kind)(message, duration=6000)


def fields_table(pairs: list[tuple[str, Any]]) -> str:
    """Label/value pairs as an HTML table, every value escaped; times humanised (exact on hover), dates readable."""
    rows = "".join(f"<tr><td>{E(k)}</td><td>{cell_html(v)}</td></tr>" for k, v in pairs)
    return f"<table class='crm-fields'>{rows}</table>"


def choices_with_any(values: list[str]) -> dict[str, str]:
    """A filter's options: "(any)" (no filter, value "") then each value."""
    return {ANY: "", **{value: value for value in values}}
