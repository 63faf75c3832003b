"""What the service views share: escaping, SLA badges, notifications, the stylesheet."""

from __future__ import annotations

import html
from typing import Any

import panel as pn

E = html.escape
READ_ONLY_TIP = "Read-only: your role lets you view tickets, not change them"
ANY = "(any)"
SLA_LABELS = {
    "breached": "Breached",
    "soon": "Breaching soon",
    "ok": "On track",
    "paused": "Paused",
    "met": "Met",
    "missed": "Missed",
    "none": "No SLA",
}
CSS = """
.svc-sla {display: inline-block; border-radius: 9px; padding: 1px 8px; font-size: 12px; background: #eef2f7; color: #334;}
.svc-sla[data-state=breached], .svc-sla[data-state=missed] {background: #fde2e1; color: #b42318;}
.svc-sla[data-state=soon] {background: #fff1d6; color: #8a5300;}
.svc-sla[data-state=ok], .svc-sla[data-state=met] {background: #e5f6e9; color: #1f6f3a;}
.svc-msg {border-left: 3px solid #c9d3df; margin: 0 0 10px 4px; padding: 4px 10px;}
.svc-msg.public {border-color: #2f7de1;} .svc-msg.note {border-color: #e0a800; background: #fffbea;}
.svc-msg.inbound {border-color: #8a94a6;}
.svc-msg .meta {color: #5f6b7a; font-size: 12px;} .svc-msg pre {white-space: pre-wrap; font-family: inherit; margin: 4px 0;}
.svc-unsent {color: #b42318; font-weight: 600;}
.svc-card {border: 1px solid #e3e6ea; border-radius: 6px; padding: 6px 8px; margin: 0 0 6px 0; background: white; font-size: 13px;}
.svc-col h4 {margin: 4px 0 8px 0;}
.svc-presence {color: #8a5300; font-weight: 600;}
"""


def read_only(workspace: Any) -> bool:
    return bool(workspace.read_only)


def notify(kind: str, message: str) -> None:
    """A toast in a served session (none in a notebook or a test)."""
    if pn.state.notifications is not None:
        getattr(pn.state.notifications, kind)(message, duration=8000)


def sla_badge(metric: str, state: str, detail: str = "") -> str:
    label = SLA_LABELS.get(state, state)
    extra = f" · {E(detail)}" if detail else ""
    return (
        f'<span class="svc-sla" data-metric="{E(metric)}" data-state="{E(state)}">{E(metric)}: {E(label)}{extra}</span>'
    )


def ticket_link(ticket_id: int, text: str) -> str:
    return f'<a href="?page=service&amp;id={int(ticket_id)}">{E(text)}</a>'


def choices_with_any(values: list[str]) -> dict[str, str]:
    return {ANY: "", **{v: v for v in values}}
