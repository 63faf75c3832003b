"""What the board draws: per stage its totals and its first cards, shared by every session.

Column totals come from the ``pipeline_totals`` table (kept by triggers) or a GROUP BY
when the board is filtered, and each column reads only its first cards (``LIMIT``).
``board()`` keeps the boards drawn lately for the whole process: after a move, twenty
people looking at the same board need its queries and its JSON once, not twenty times.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from crm_workspace.data.shared import UntilChanged
from crm_workspace.data.store import utcnow

from .filters import BOARD_PARAMS, LAST_TOUCH, SORTS, PipelineFilters
from .values import DEFAULT_CURRENCY, day_text, money

if TYPE_CHECKING:
    import pandas

CARD_SQL = f"""
SELECT d.id, d.version, d.title, d.stage, d.status, d.amount, d.currency, d.probability, d.owner,
       d.expected_close, d.organization_id, d.contact_id, o.name AS organization,
       nullif(trim(coalesce(c.first_name, '') || ' ' || coalesce(c.last_name, '')), '') AS contact,
       CAST(julianday(:as_of) - julianday(coalesce(d.stage_changed_at, d.created_at)) AS INTEGER) AS days_in_stage,
       julianday(:as_of) - julianday({LAST_TOUCH}) AS idle_days,
       (SELECT t.subject || coalesce(' · ' || substr(t.due_at, 1, 10), '') FROM activities t
         WHERE t.deal_id = d.id AND t.kind = 'task' AND t.done = 0 ORDER BY t.due_at LIMIT 1) AS next_task
FROM deals d
LEFT JOIN organizations o ON o.id = d.organization_id
LEFT JOIN contacts c ON c.id = d.contact_id
"""

#: Boards drawn lately, shared by every session of the process (see ``BoardQueries.board``).
BOARDS = UntilChanged(size=64)


class BoardQueries(PipelineFilters):
    """The board's columns: totals, cards, 'load more', and the shared cache of whole boards."""

    def totals(self) -> list[dict[str, Any]]:
        """Per stage: deal count, total amount, weighted amount (amount × probability)."""
        if self.filtered():
            where, params = self._where()
            sql = (
                "SELECT d.stage, count(*) AS deals, total(d.amount) AS amount,"
                f" total(d.amount * d.probability / 100.0) AS weighted FROM deals d INDEXED BY idx_deals_pipeline_cover WHERE {where} GROUP BY d.stage"
            )
        else:
            sql = "SELECT stage, deals, amount, weighted FROM pipeline_totals WHERE pipeline = :pipeline"
            params = {"pipeline": self.pipeline}
        found = {r["stage"]: r for r in self.store.query(sql, params)}
        rows = []
        for stage in self.stages():
            agg = found.get(stage["stage"], {})
            rows.append(
                {
                    **stage,
                    "deals": int(agg.get("deals") or 0),
                    "amount": round(float(agg.get("amount") or 0), 2),
                    "weighted": round(float(agg.get("weighted") or 0), 2),
                }
            )
        return rows

    def cards(self, stage: str, limit: int | None = None, offset: int = 0) -> list[dict[str, Any]]:
        """The cards of one column, sorted by ``sort``; each with its rotting and overdue markers."""
        config = self.stage(stage)
        where, params = self._where()
        params.update(stage=stage, limit=int(limit or self.page_size), offset=int(offset))
        rows = self.store.query(
            f"{CARD_SQL} WHERE {where} AND d.stage = :stage ORDER BY {SORTS[self.sort]} LIMIT :limit OFFSET :offset",
            params,
        )
        today = params["as_of"][:10]
        for row in rows:
            row["rotting"] = bool(
                row["status"] == "open"
                and config["rot_days"] is not None
                and row["idle_days"] is not None
                and row["idle_days"] > config["rot_days"]
            )
            row["overdue"] = bool(row["status"] == "open" and row["expected_close"] and row["expected_close"] < today)
        return rows

    def columns(self) -> list[dict[str, Any]]:
        """What the board draws: per stage its totals, its first cards and whether more exist."""
        columns = []
        currency = self.workspace.setting("currency", DEFAULT_CURRENCY)
        for total in self.totals():
            shown = self.page_size + int(self.shown.get(total["stage"], 0))
            cards = self.cards(total["stage"], limit=shown)
            columns.append(
                {
                    "stage": total["stage"],
                    "label": total["label"] or total["stage"],
                    "status": total["status"],
                    "probability": total["probability"],
                    "rot_days": total["rot_days"],
                    "deals": total["deals"],
                    "amount": total["amount"],
                    "weighted": total["weighted"],
                    "amount_text": money(total["amount"], currency),
                    "weighted_text": money(total["weighted"], currency),
                    "more": max(0, total["deals"] - len(cards)),
                    "cards": [_card_for_js(card) for card in cards],
                }
            )
        return columns

    def board(self) -> tuple[list[dict[str, Any]], str]:
        """``columns()`` and their JSON for the board, from the process-wide cache when another
        session asked for the same board of the same data within the same minute.

        The key is the workspace file, every filter (the owner as "my deals" resolves it) and the minute:
        "days in stage", rotting and overdue move with the clock.
        """
        key = (
            self.workspace.path,
            self.as_of or utcnow()[:16],
            *(getattr(self, name) for name in BOARD_PARAMS),
            self.owner_filter(),
            tuple(sorted(self.shown.items())),
        )

        def draw() -> tuple[list[dict[str, Any]], str]:
            columns = self.columns()
            return columns, json.dumps(columns, default=str, separators=(",", ":"))

        return BOARDS.get(self.store, key, draw)

    def load_more(self, stage: str) -> None:
        self.shown = {**self.shown, stage: int(self.shown.get(stage, 0)) + self.page_size}

    def totals_frame(self) -> pandas.DataFrame:
        """``pipeline.board``: one row per column, as in the board's headers."""
        import pandas as pd

        rows = self.totals()
        cols = ["stage", "label", "status", "position", "probability", "rot_days", "deals", "amount", "weighted"]
        return pd.DataFrame([{k: r[k] for k in cols} for r in rows], columns=cols)

    def cards_frame(self) -> pandas.DataFrame:
        """``pipeline.cards``: the cards the board shows (first page per column), column by column."""
        import pandas as pd

        cols = [
            "stage",
            "id",
            "title",
            "organization",
            "contact",
            "amount",
            "currency",
            "probability",
            "owner",
            "expected_close",
            "days_in_stage",
            "next_task",
            "rotting",
            "overdue",
        ]
        rows = []
        for stage in self.stages():
            shown = self.page_size + int(self.shown.get(stage["stage"], 0))
            rows.extend({k: card[k] for k in cols} for card in self.cards(stage["stage"], limit=shown))
        return pd.DataFrame(rows, columns=cols)


def _card_for_js(card: dict[str, Any]) -> dict[str, Any]:
    amount = card["amount"]
    return {
        "id": card["id"],
        "version": card["version"],
        "title": card["title"] or "",
        "organization": card["organization"] or "",
        "contact": card["contact"] or "",
        "amount": money(amount, card["currency"]),
        "owner": card["owner"] or "",
        "expected_close": day_text(card["expected_close"]),
        "days_in_stage": card["days_in_stage"],
        "next_task": card["next_task"] or "",
        "rotting": card["rotting"],
        "overdue": card["overdue"],
        "probability": card["probability"],
    }
