"""What the contacts pages share: the stylesheet, escaping, a person's name, notifications."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from typing import Any

import panel as pn

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


_ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:\d\d)?")


def text_html(text: str) -> str:
    """Free text escaped, with any stored time in it (an edit's "old → new") humanised."""
    out, last = [], 0
    for match in _ISO_TIME.finditer(text):
        out += [E(text[last : match.start()]), when_html(match.group())]
        last = match.end()
    return "".join(out) + E(text[last:])


def _value(value: Any) -> str:
    """A field's value escaped; a stored time (ISO) as "3 days ago" with the exact time on hover."""
    if isinstance(value, str) and _ISO_TIME.match(value):
        return when_html(value)
    return E("" if value is None else str(value))


def fields_table(pairs: list[tuple[str, Any]]) -> str:
    """Label/value pairs as an HTML table, every value escaped."""
    rows = "".join(f"<tr><td>{E(k)}</td><td>{_value(v)}</td></tr>" for k, v in pairs)
    return f"<table class='crm-fields'>{rows}</table>"


def choices_with_any(values: list[str]) -> dict[str, str]:
    """A filter's options: "(any)" (no filter, value "") then each value."""
    return {ANY: "", **{value: value for value in values}}


def ago(iso: str | None, now: datetime | None = None) -> str:
    """An ISO time as people say it: "just now", "5 minutes ago", "3 days ago", "in 2 days", or its date."""
    if not iso:
        return ""
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


def when_html(iso: str | None) -> str:
    """A time as "3 days ago" with the exact time (UTC) on hover, escaped."""
    if not iso:
        return ""
    exact = iso.replace("T", " ").replace("Z", " UTC")
    return f"<span class='crm-when' title='{E(exact)}'>{E(ago(iso))}</span>"
