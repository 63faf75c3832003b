"""What a move to a won or lost stage needs before it is written: a lost reason, or the day it closed."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import panel as pn
import param

from ..schema import LOST_REASONS
from ..values import Day, today_iso
from .common import bound


class CloseDialog(pn.viewable.Viewer):
    """Asks for a lost reason (list plus free text) or a won date, then hands the move to ``on_move``.

    ``on_move(deal_id, stage, version, lost_reason=..., won_date=...)`` writes it (the
    page reports a conflict); ``on_cancel()`` runs when the person changes their mind.
    """

    pending = param.Dict(default=None, allow_None=True, doc="The move asked for: id, version, stage, status.")
    lost_reason = param.Selector(default="", objects=["", *LOST_REASONS])
    reason_details = param.String(default="", doc="Free text added to the reason, or the reason itself.")
    closed_on = Day(default=None, allow_None=True, doc="The day the deal was won or lost (today unless chosen).")

    def __init__(
        self,
        on_move: Callable[..., Any],
        on_cancel: Callable[[], Any] | None = None,
        **params: Any,
    ):
        super().__init__(**params)
        self._on_move = on_move
        self._on_cancel = on_cancel
        self.title = pn.pane.Markdown("")
        self.reason = bound(pn.widgets.Select, self.param.lost_reason, name="Lost reason")
        self.details = bound(
            pn.widgets.TextInput, self.param.reason_details, name="Details (optional, or your own reason)"
        )
        self.date = bound(pn.widgets.DatePicker, self.param.closed_on, label="Closed on")
        self.error = pn.pane.Alert("", alert_type="warning", visible=False)
        self.confirm = pn.widgets.Button(label="Confirm", color="primary")
        self.cancel = pn.widgets.Button(label="Cancel")
        self.confirm.on_click(self._confirm)
        self.cancel.on_click(self._cancel)
        self.layout = pn.Card(
            self.title,
            self.reason,
            self.details,
            self.date,
            self.error,
            pn.Row(self.confirm, self.cancel),
            title="Close the deal",
            visible=False,
            collapsible=False,
            width=420,
            # over the board where the card was dropped, not above it off-screen
            styles={
                "border": "2px solid #1f4e79",
                "position": "fixed",
                "top": "90px",
                "left": "calc(50% - 210px)",
                "z-index": "1001",
                "background": "white",
                "box-shadow": "0 8px 28px rgba(0, 0, 0, 0.18)",
            },
        )

    def ask(self, deal: dict[str, Any], msg: dict[str, Any], stage: dict[str, Any]) -> None:
        """Open the dialog for moving ``deal`` to ``stage`` (a won or lost one), as board.js asked in ``msg``."""
        lost = stage["status"] == "lost"
        self.param.update(
            pending={
                "id": msg["id"],
                "version": msg.get("version"),
                "stage": stage["stage"],
                "status": stage["status"],
            },
            lost_reason="",
            reason_details="",
            closed_on=today_iso(),
        )
        self.layout.title = f"Move to {stage['label']}"
        self.title.object = f"**{html.escape(deal['title'] or '')}** → {html.escape(stage['label'] or '')}"
        self.reason.visible = self.details.visible = lost
        self.date.label = "Lost on" if lost else "Won on"
        self.error.visible = False
        self.layout.visible = True

    def _refuse(self, text: str) -> None:
        self.error.param.update(object=text, visible=True)

    def _confirm(self, _event: Any = None) -> None:
        if not self.pending:
            return
        reason = None
        if self.pending["status"] == "lost":
            parts = [p.strip() for p in (self.lost_reason or "", self.reason_details or "") if p and p.strip()]
            reason = ": ".join(parts)
            if not reason:
                self._refuse("Choose why the deal was lost (a reason from the list or your own words).")
                return
        when = self.closed_on.isoformat() if self.closed_on else None  # none chosen: the store says today
        pending, self.pending = self.pending, None
        self.layout.visible = False
        self._on_move(pending["id"], pending["stage"], pending["version"], lost_reason=reason, won_date=when)

    def _cancel(self, _event: Any = None) -> None:
        self.pending = None
        self.layout.visible = False
        if self._on_cancel is not None:
            self._on_cancel()

    def __panel__(self) -> pn.viewable.Viewable:
        return self.layout
