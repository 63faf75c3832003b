"""Small pieces the marketing tabs share: messages, read-only buttons, tables."""

from __future__ import annotations

import html

import panel as pn

READ_ONLY_TIP = "Viewers cannot change marketing: ask an admin or a member."


def alert(text: str, kind: str = "danger") -> pn.pane.Alert:
    return pn.pane.Alert(html.escape(str(text)), alert_type=kind, margin=(5, 0))


def button(label: str, read_only: bool, *, kind: str = "primary", **options) -> pn.widgets.Button:
    """A button that does nothing for a viewer (disabled, with the reason as its tooltip)."""
    return pn.widgets.Button(
        name=label,
        button_type=kind,
        disabled=read_only,
        description=READ_ONLY_TIP if read_only else None,
        **options,
    )


def table(frame, **options) -> pn.widgets.Tabulator:
    options.setdefault("sizing_mode", "stretch_width")
    return pn.widgets.Tabulator(frame, show_index=False, disabled=True, **options)


def say(box: pn.Column, text: str, kind: str = "success") -> None:
    box[:] = [alert(text, kind)]
