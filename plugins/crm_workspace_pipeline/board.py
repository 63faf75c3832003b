"""The board widget: a Panel ESM component drawing columns and cards, sending moves back to Python."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import param
from panel.custom import JSComponent

CSS = """
.pl-board {display: flex; gap: 10px; overflow-x: auto; align-items: flex-start; padding: 4px 2px 12px;
  font-family: inherit; font-size: 13px;}
.pl-column {flex: 1 1 200px; min-width: 165px; max-width: 280px; background: #f4f6f8; border-radius: 8px;
  padding: 8px; min-height: 120px; border: 2px solid transparent; box-sizing: border-box;}
.pl-column.pl-won, .pl-column.pl-lost {flex: 0 0 136px; min-width: 136px;}
.pl-column.pl-won .pl-card-who, .pl-column.pl-won .pl-card-meta, .pl-column.pl-won .pl-card-task,
.pl-column.pl-lost .pl-card-who, .pl-column.pl-lost .pl-card-meta, .pl-column.pl-lost .pl-card-task,
.pl-column.pl-won .pl-markers, .pl-column.pl-lost .pl-markers {display: none;}
.pl-column.pl-over {border-color: #1f4e79; background: #e8f0f8;}
.pl-column.pl-won .pl-title {color: #1b7f3b;}
.pl-column.pl-lost .pl-title {color: #a4262c;}
.pl-header {display: flex; justify-content: space-between; align-items: center;}
.pl-title {font-weight: 600; font-size: 14px;}
.pl-add {border: 1px solid #c8ced6; background: white; border-radius: 4px; cursor: pointer; width: 26px;}
.pl-totals {color: #5f6b7a; font-size: 12px; display: flex; flex-direction: column; margin: 4px 0 8px;}
.pl-cards {display: flex; flex-direction: column; gap: 6px; max-height: 60vh; overflow-y: auto; padding: 2px;}
.pl-card {background: white; border: 1px solid #dde2e8; border-radius: 6px; padding: 6px 8px; cursor: grab;
  overflow-wrap: anywhere;}
.pl-card:focus {outline: 2px solid #1f4e79;}
.pl-card.pl-dragging {opacity: 0.5;}
.pl-card-title, .pl-card-who {display: -webkit-box; -webkit-line-clamp: 2; line-clamp: 2; -webkit-box-orient: vertical;
  overflow: hidden;}
.pl-card-title {font-weight: 600;}
.pl-card-who, .pl-card-meta, .pl-card-task {color: #5f6b7a; font-size: 12px;}
.pl-card-amount {font-weight: 500;}
.pl-markers span {display: inline-block; font-size: 11px; border-radius: 3px; padding: 0 4px; margin: 2px 4px 0 0;}
.pl-rotting {background: #fde7c8; color: #8a4b00;}
.pl-overdue {background: #fbd5d5; color: #a4262c;}
.pl-board.pl-readonly .pl-card {cursor: pointer;}
.pl-more {margin-top: 6px; width: 100%; border: 1px dashed #c8ced6; background: white; cursor: pointer;}
@media (max-width: 760px) {
  /* a phone: one column at a time, swiped column by column */
  .pl-board {scroll-snap-type: x mandatory; overscroll-behavior-x: contain; -webkit-overflow-scrolling: touch;}
  .pl-column, .pl-column.pl-won, .pl-column.pl-lost {flex: 0 0 82%; min-width: 82%; max-width: 82%;
    scroll-snap-align: start;}
  .pl-column.pl-won .pl-card-who, .pl-column.pl-lost .pl-card-who {display: block;}
}
"""


class Board(JSComponent):
    """Columns (with totals and first cards) in; ``move``/``open``/``add``/``more`` messages out."""

    payload = param.String(
        default="[]",
        doc="What board.js draws, PipelineModel.columns() as JSON. Text, not a nested list: Bokeh walks"
        " every item of a nested value looking for models, ~20 ms per refresh of each open board.",
    )

    readonly = param.Boolean(
        default=False, doc="A read-only user (a viewer): cards open but cannot be dragged, moved or added."
    )

    _esm = Path(__file__).parent / "board.js"
    _bundle = "board.js"  # plain JavaScript, served as a file: nothing to transpile in the browser per load
    _stylesheets = [CSS]  # noqa: RUF012 - Panel's class attribute

    def __init__(self, on_message: Callable[[dict[str, Any]], None] | None = None, **params: Any):
        super().__init__(**params)
        self._on_message = on_message
        self._columns: list[dict[str, Any]] = []

    @property
    def columns(self) -> list[dict[str, Any]]:
        """The columns drawn (PipelineModel.columns()); read-only, shared with other sessions."""
        return self._columns

    def show(self, columns: list[dict[str, Any]], payload: str) -> None:
        """Draw ``columns``, sent to board.js as ``payload``, their JSON (PipelineModel.board())."""
        self._columns = columns
        self.payload = payload

    def _handle_msg(self, msg: Any) -> None:
        if self._on_message is not None and isinstance(msg, dict):
            self._on_message(msg)
