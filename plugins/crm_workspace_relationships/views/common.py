"""Small helpers the relationship views share: escaping and notifications."""

from __future__ import annotations

import html
from typing import Any

import panel as pn


def text(value: Any) -> str:
    """``value`` as HTML text: database strings never become markup."""
    return html.escape("" if value is None else str(value))


def notify_error(error: Exception) -> None:
    if pn.state.notifications is not None:
        pn.state.notifications.error(str(error), duration=8000)


def notify_success(message: str) -> None:
    if pn.state.notifications is not None:
        pn.state.notifications.success(message, duration=4000)
