"""The pipeline model: stages, board columns, moves, forecast — params over the Store, no widgets.

Everything a board or a chart shows is asked of SQL: column totals come from the
``pipeline_totals`` table (kept by triggers) or a GROUP BY when the board is
filtered, and each column reads only its first cards (``LIMIT``). The same
methods back the ``pipeline.*`` data views, so a notebook gets the numbers the
dashboard shows.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections import OrderedDict
from datetime import date
from typing import TYPE_CHECKING, Any

import param

from crm_workspace import Workspace
from crm_workspace.data.store import utcnow
from crm_workspace.errors import NotFound, ValidationError

from .schema import DEAL_STATUSES, LOST_REASONS

if TYPE_CHECKING:
    import pandas

SORTS = {
    "expected close": "d.expected_close, d.id",
    "amount": "d.amount DESC, d.id",
    "recently updated": "d.updated_at DESC, d.id",
    "title": "d.title COLLATE NOCASE, d.id",
}
LAST_TOUCH = (
    "max(coalesce(d.stage_changed_at, d.created_at, ''), coalesce((SELECT max(a.occurred_at) FROM activities a"
    " WHERE a.deal_id = d.id AND a.occurred_at <= :as_of), ''))"
)
ROT_DAYS = "(SELECT s.rot_days FROM pipeline_stages s WHERE s.pipeline = d.pipeline AND s.stage = d.stage)"
ROTTING = f"(d.status = 'open' AND {ROT_DAYS} IS NOT NULL AND julianday(:as_of) - julianday({LAST_TOUCH}) > {ROT_DAYS})"
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
DEAL_FIELDS = ("title", "amount", "currency", "probability", "expected_close", "owner", "organization_id", "contact_id")


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def today_iso() -> str:
    return utcnow()[:10]


# ---------------------------------------------------------------- validation
def stages_of(workspace: Workspace, pipeline: str) -> list[dict[str, Any]]:
    return workspace.store.query(
        "SELECT id, pipeline, stage, label, position, probability, status, rot_days"
        " FROM pipeline_stages WHERE pipeline = ? ORDER BY position, id",
        [pipeline],
    )


def validate_deal(workspace: Workspace, record: dict, before: dict | None) -> dict[str, str] | None:
    """Unknown pipeline/stage checks, and the fields a stage implies (status, probability, times)."""
    errors: dict[str, str] = {}
    if before is not None and "stage" not in record and "pipeline" not in record:
        if record.get("status") == "lost" and before.get("status") != "lost":
            _need_reason(record, errors)
        return errors or None
    old = before or {}
    pipeline = record.get("pipeline") or old.get("pipeline") or "default"
    if before is None:
        record["pipeline"] = pipeline
    stages = {s["stage"]: s for s in stages_of(workspace, pipeline)}
    if not stages:
        return {"pipeline": f"unknown pipeline {pipeline!r}"}
    name = record.get("stage", old.get("stage"))
    if _blank(name):
        if before is not None:
            return {"stage": "is required"}
        name = record["stage"] = next(iter(stages))
    if name not in stages:
        return {"stage": f"unknown stage {name!r} in pipeline {pipeline!r} (stages: {', '.join(stages)})"}
    stage = stages[name]
    status = stage["status"]
    if before is None:  # a new deal: fill what its stage implies, keep what was given
        record.setdefault("stage_changed_at", record.get("created_at") or utcnow())
        if _blank(record.get("status")):
            record["status"] = status
        if _blank(record.get("probability")):
            record["probability"] = stage["probability"]
        elif "probability_manual" not in record:
            with contextlib.suppress(TypeError, ValueError):  # core validation reports a bad number
                record["probability_manual"] = int(float(record["probability"]) != float(stage["probability"]))
        if record["status"] != "open" and _blank(record.get("closed_at")):
            record["closed_at"] = today_iso()
        return None
    if name == before.get("stage"):
        return None
    record["stage_changed_at"] = utcnow()
    record["status"] = status
    manual = record.get("probability_manual", before.get("probability_manual")) or 0
    if status != "open" or not ("probability" in record or manual):
        record["probability"] = stage["probability"]
    if status == "open":
        record["closed_at"] = None
        record["lost_reason"] = None
    else:
        if _blank(record.get("closed_at")):
            record["closed_at"] = today_iso()
        if status == "won":
            record["lost_reason"] = None
        else:
            _need_reason(record, errors)
    return errors or None


def _need_reason(record: dict, errors: dict) -> None:
    if _blank(record.get("lost_reason")):
        errors["lost_reason"] = f"a lost deal needs a reason (one of: {', '.join(LOST_REASONS)}, or your own words)"


#: Boards drawn lately, shared by every session of the process: after a move, twenty people
#: looking at the same board need its queries and its JSON once, not twenty times.
_BOARDS: OrderedDict[tuple, tuple[list[dict[str, Any]], str]] = OrderedDict()
_BOARDS_LOCK = threading.Lock()
BOARDS_KEPT = 64


#: what, besides the data and the clock, decides a board (``shown`` too, made hashable)
BOARD_PARAMS = (
    "pipeline",
    "owner",
    "organization_id",
    "organization",
    "close_from",
    "close_to",
    "min_amount",
    "rotting_only",
    "sort",
    "page_size",
)


# --------------------------------------------------------------------- model
class PipelineModel(param.Parameterized):
    """One person's view of a pipeline: filters, sort, how many cards each column shows."""

    workspace = param.ClassSelector(class_=Workspace)
    pipeline = param.String(default="default")
    owner = param.String(default=None, allow_None=True, doc="Only this owner's deals ('my deals').")
    organization_id = param.Integer(default=None, allow_None=True)
    organization = param.String(default=None, allow_None=True, doc="Organization name contains this text.")
    close_from = param.String(default=None, allow_None=True, doc="Expected close on or after (YYYY-MM-DD).")
    close_to = param.String(default=None, allow_None=True, doc="Expected close on or before (YYYY-MM-DD).")
    min_amount = param.Number(default=None, allow_None=True)
    rotting_only = param.Boolean(default=False)
    sort = param.Selector(default="expected close", objects=list(SORTS))
    page_size = param.Integer(default=50, bounds=(1, 1000))
    shown = param.Dict(default={}, doc="Cards shown per stage beyond the first page ('load more').")
    as_of = param.String(default=None, allow_None=True, doc="'Now' for rotting and overdue (tests, replays).")
    slipped_limit = param.Integer(default=200)

    # ------------------------------------------------------------ basics
    @property
    def store(self):
        return self.workspace.store

    def now(self) -> str:
        return self.as_of or utcnow()

    def stages(self) -> list[dict[str, Any]]:
        """This pipeline's stages in board order."""
        return stages_of(self.workspace, self.pipeline)

    def stage(self, name: str) -> dict[str, Any]:
        for stage in self.stages():
            if stage["stage"] == name:
                return stage
        raise ValidationError("deals", {"stage": f"unknown stage {name!r} in pipeline {self.pipeline!r}"})

    def pipelines(self) -> list[str]:
        return [r["pipeline"] for r in self.store.query("SELECT DISTINCT pipeline FROM pipeline_stages ORDER BY 1")]

    def filtered(self) -> bool:
        return any(
            v not in (None, "", False)
            for v in (
                self.owner,
                self.organization_id,
                self.organization,
                self.close_from,
                self.close_to,
                self.min_amount,
            )
        ) or bool(self.rotting_only)

    def _where(self) -> tuple[str, dict[str, Any]]:
        clauses = ["d.pipeline = :pipeline"]
        params: dict[str, Any] = {"pipeline": self.pipeline, "as_of": self.now()}
        if self.owner:
            clauses.append("d.owner = :owner")
            params["owner"] = self.owner
        if self.organization_id is not None:
            clauses.append("d.organization_id = :organization_id")
            params["organization_id"] = self.organization_id
        if self.organization:
            clauses.append("d.organization_id IN (SELECT o2.id FROM organizations o2 WHERE o2.name LIKE :organization)")
            params["organization"] = f"%{self.organization.strip()}%"
        if self.close_from:
            clauses.append("d.expected_close >= :close_from")
            params["close_from"] = self.close_from
        if self.close_to:
            clauses.append("d.expected_close <= :close_to")
            params["close_to"] = self.close_to
        if self.min_amount is not None:
            clauses.append("d.amount >= :min_amount")
            params["min_amount"] = float(self.min_amount)
        if self.rotting_only:
            clauses.append(ROTTING)
        return " AND ".join(clauses), params

    # ------------------------------------------------------------- board
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
                    "amount_text": f"{total['amount']:,.0f}",
                    "weighted_text": f"{total['weighted']:,.0f}",
                    "more": max(0, total["deals"] - len(cards)),
                    "cards": [_card_for_js(card) for card in cards],
                }
            )
        return columns

    def board(self) -> tuple[list[dict[str, Any]], str]:
        """``columns()`` and their JSON for the board, from the process-wide cache when another
        session asked for the same board of the same data within the same minute.

        The key is this thread's connection (the object: its data version counts the
        commits of every other connection, in any process) with that data version,
        every filter, and the minute: "days in stage", rotting and overdue move with the clock.
        """
        store = self.store
        key = (
            store.conn,
            store.data_version(),
            self.as_of or utcnow()[:16],
            *(getattr(self, name) for name in BOARD_PARAMS),
            tuple(sorted(self.shown.items())),
        )
        with _BOARDS_LOCK:
            found = _BOARDS.get(key)
            if found is not None:
                _BOARDS.move_to_end(key)
                return found
        columns = self.columns()
        found = (columns, json.dumps(columns, default=str, separators=(",", ":")))
        with _BOARDS_LOCK:
            _BOARDS[key] = found
            while len(_BOARDS) > BOARDS_KEPT:
                _BOARDS.popitem(last=False)
        return found

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

    # ------------------------------------------------------------- writes
    def move(
        self,
        deal_id: int,
        stage: str,
        version: int | None,
        *,
        lost_reason: str | None = None,
        won_date: str | None = None,
    ) -> dict[str, Any]:
        """Move a deal to ``stage`` (checked against ``version``): stage, probability, times, status.

        Won needs nothing more (``won_date`` defaults to today); Lost needs a reason.
        A stale ``version`` raises ``ConflictError`` and writes nothing.
        """
        target = self.stage(stage)
        changes: dict[str, Any] = {"stage": stage}
        if target["status"] == "lost":
            if _blank(lost_reason):
                raise ValidationError("deals", {"lost_reason": "choose why the deal was lost before moving it to Lost"})
            changes["lost_reason"] = lost_reason.strip()
        if target["status"] == "won" and not _blank(won_date):
            changes["closed_at"] = str(won_date)[:10]
        if target["status"] == "lost" and not _blank(won_date):
            changes["closed_at"] = str(won_date)[:10]
        return self.store.update("deals", deal_id, changes, version=version)

    def quick_add(self, stage: str, title: str, amount: Any = None, **fields: Any) -> dict[str, Any]:
        """Create a deal straight in a column (owner: the acting user unless given)."""
        self.stage(stage)
        record = {"title": title, "stage": stage, "pipeline": self.pipeline, "amount": amount, **fields}
        record.setdefault("owner", self.workspace.user)
        return self.store.insert("deals", record)

    def deal(self, deal_id: int) -> dict[str, Any]:
        return self.store.get("deals", deal_id)

    def save_deal(self, deal_id: int, changes: dict[str, Any], version: int | None) -> dict[str, Any]:
        """Save a deal's form: a probability typed by hand sticks across moves; a blank one resets to the stage's."""
        changes = {k: v for k, v in changes.items() if k in DEAL_FIELDS or k in ("stage", "lost_reason", "status")}
        if "probability" in changes:
            before = self.deal(deal_id)
            if _blank(changes["probability"]):
                stage = stages_of(self.workspace, before["pipeline"])
                default = next((s["probability"] for s in stage if s["stage"] == before["stage"]), 0)
                changes.update(probability=default, probability_manual=0)
            else:
                try:
                    manual = float(changes["probability"]) != float(before["probability"] or 0)
                except (TypeError, ValueError):
                    manual = True  # let validation say what is wrong
                if manual:
                    changes["probability_manual"] = 1
        return self.store.update("deals", deal_id, changes, version=version)

    def deal_contacts(self, deal_id: int) -> list[dict[str, Any]]:
        """The deal's contact first, then the other people at its organization."""
        return self.store.query(
            "SELECT c.id, c.first_name, c.last_name, c.title, c.email, c.phone, c.id = d.contact_id AS primary_contact"
            " FROM deals d JOIN contacts c ON c.id = d.contact_id"
            " OR (d.organization_id IS NOT NULL AND c.organization_id = d.organization_id)"
            " WHERE d.id = ? ORDER BY primary_contact DESC, c.last_name, c.first_name LIMIT 25",
            [deal_id],
        )

    def deal_timeline(self, deal_id: int, limit: int = 50) -> list[dict[str, Any]]:
        """Activities on the deal, newest first, and the audit trail of its stage moves."""
        return self.store.query(
            "SELECT occurred_at AS at, kind, subject, owner AS who, due_at, done FROM activities WHERE deal_id = :id"
            " UNION ALL SELECT at, 'change', 'stage ' || coalesce(json_extract(changes, '$.before.stage'), '?')"
            " || ' → ' || json_extract(changes, '$.after.stage'), user, NULL, NULL FROM audit_log"
            " WHERE table_name = 'deals' AND row_id = CAST(:id AS TEXT)"
            " AND json_extract(changes, '$.after.stage') IS NOT NULL"
            " ORDER BY at DESC LIMIT :limit",
            {"id": deal_id, "limit": limit},
        )

    # --------------------------------------------------------- stage setup
    def save_stage(self, stage: str, **fields: Any) -> dict[str, Any]:
        """Change a stage's label, position, default probability, status or rot limit (days)."""
        allowed = {"label", "position", "probability", "status", "rot_days"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValidationError("pipeline_stages", {k: "not a stage setting" for k in unknown})
        _check_stage_fields(fields)
        row = self.stage(stage)
        return self.store.update("pipeline_stages", row["id"], fields)

    def add_stage(self, stage: str, **fields: Any) -> dict[str, Any]:
        """Add a stage to this pipeline (at the end unless ``position`` is given)."""
        if _blank(stage):
            raise ValidationError("pipeline_stages", {"stage": "is required"})
        if any(s["stage"] == stage for s in self.stages()):
            raise ValidationError("pipeline_stages", {"stage": f"{stage!r} already exists in {self.pipeline!r}"})
        _check_stage_fields(fields)
        position = fields.pop("position", None)
        if position is None:
            position = 1 + max((s["position"] for s in self.stages()), default=-1)
        return self.store.insert(
            "pipeline_stages",
            {"pipeline": self.pipeline, "stage": stage.strip(), "position": position, **fields},
        )

    def add_pipeline(self, name: str, copy_from: str = "default") -> None:
        """A new pipeline, starting with a copy of ``copy_from``'s stages."""
        if _blank(name):
            raise ValidationError("pipeline_stages", {"pipeline": "is required"})
        if name in self.pipelines():
            raise ValidationError("pipeline_stages", {"pipeline": f"{name!r} already exists"})
        source = stages_of(self.workspace, copy_from)
        if not source:
            raise NotFound(f"no pipeline named {copy_from!r}")
        self.store.insert_many(
            "pipeline_stages",
            [{k: s[k] for k in s if k != "id"} | {"pipeline": name} for s in source],
        )

    def stages_frame(self) -> pandas.DataFrame:
        """``pipeline.stages``: the stage settings of this pipeline."""
        import pandas as pd

        return pd.DataFrame(self.stages())

    # ----------------------------------------------------------- forecast
    def _open_where(self) -> tuple[str, dict[str, Any]]:
        where, params = self._where()
        return f"{where} AND d.status = 'open'", params

    def forecast_by_month(self) -> pandas.DataFrame:
        """``pipeline.forecast_by_month``: open deals by expected-close month: count, amount, weighted."""
        where, params = self._open_where()
        return self._frame(
            "SELECT coalesce(substr(d.expected_close, 1, 7), 'no date') AS month, count(*) AS deals,"
            " total(d.amount) AS amount, total(d.amount * d.probability / 100.0) AS weighted"
            f" FROM deals d INDEXED BY idx_deals_pipeline_cover WHERE {where} GROUP BY 1 ORDER BY 1",
            params,
        )

    def forecast_by_owner(self) -> pandas.DataFrame:
        """``pipeline.forecast_by_owner``: open deals by owner: count, amount, weighted (largest first)."""
        where, params = self._open_where()
        return self._frame(
            "SELECT coalesce(d.owner, '(nobody)') AS owner, count(*) AS deals, total(d.amount) AS amount,"
            " total(d.amount * d.probability / 100.0) AS weighted"
            f" FROM deals d INDEXED BY idx_deals_pipeline_cover WHERE {where} GROUP BY 1 ORDER BY weighted DESC, owner",
            params,
        )

    def kpis(self) -> dict[str, Any]:
        """Win rate, average won deal size, average sales cycle (days, created → won), open totals."""
        where, params = self._where()
        row = self.store.query(
            "SELECT sum(d.status = 'won') AS won, sum(d.status = 'lost') AS lost, sum(d.status = 'open') AS open,"
            " avg(CASE WHEN d.status = 'won' THEN d.amount END) AS avg_deal_size,"
            " avg(CASE WHEN d.status = 'won' AND d.closed_at IS NOT NULL"
            "   THEN julianday(d.closed_at) - julianday(d.created_at) END) AS avg_cycle_days,"
            " total(CASE WHEN d.status = 'open' THEN d.amount END) AS open_amount,"
            " total(CASE WHEN d.status = 'open' THEN d.amount * d.probability / 100.0 END) AS weighted"
            f" FROM deals d WHERE {where}",
            params,
        )[0]
        won, lost = int(row["won"] or 0), int(row["lost"] or 0)
        return {
            "won": won,
            "lost": lost,
            "open": int(row["open"] or 0),
            "win_rate": won / (won + lost) if won + lost else None,
            "avg_deal_size": row["avg_deal_size"],
            "avg_cycle_days": row["avg_cycle_days"],
            "open_amount": row["open_amount"],
            "weighted": row["weighted"],
        }

    def kpis_frame(self) -> pandas.DataFrame:
        """``pipeline.kpis``: the forecast's key figures as one row."""
        import pandas as pd

        return pd.DataFrame([self.kpis()])

    def slipped(self) -> pandas.DataFrame:
        """``pipeline.slipped``: each time an open deal's expected close was pushed later (from the audit trail)."""
        where, params = self._where()
        params["limit"] = self.slipped_limit
        return self._frame(
            "SELECT d.id AS deal_id, d.title, d.owner, d.stage,"
            " json_extract(a.changes, '$.before.expected_close') AS was,"
            " json_extract(a.changes, '$.after.expected_close') AS now,"
            " CAST(julianday(json_extract(a.changes, '$.after.expected_close'))"
            "  - julianday(json_extract(a.changes, '$.before.expected_close')) AS INTEGER) AS days_slipped,"
            " a.at AS changed_at, a.user AS changed_by"
            " FROM audit_log a JOIN deals d ON d.id = CAST(a.row_id AS INTEGER)"
            " WHERE a.table_name = 'deals' AND a.action = 'update'"
            " AND json_extract(a.changes, '$.after.expected_close') > json_extract(a.changes, '$.before.expected_close')"
            f" AND {where} ORDER BY a.at DESC, a.id DESC LIMIT :limit",
            params,
        )

    def _frame(self, sql: str, params: dict[str, Any]) -> pandas.DataFrame:
        import pandas as pd

        cursor = self.store.conn.execute(sql, params)
        names = [d[0] for d in cursor.description]
        return pd.DataFrame(cursor.fetchall(), columns=names)


def _check_stage_fields(fields: dict[str, Any]) -> None:
    errors = {}
    if "status" in fields and fields["status"] not in DEAL_STATUSES:
        errors["status"] = f"must be one of {', '.join(DEAL_STATUSES)}"
    if "probability" in fields:
        try:
            value = float(fields["probability"])
            if not 0 <= value <= 100:
                errors["probability"] = "must be from 0 to 100"
            fields["probability"] = value
        except (TypeError, ValueError):
            errors["probability"] = f"must be a number, not {fields['probability']!r}"
    if fields.get("rot_days") is not None:
        try:
            fields["rot_days"] = int(fields["rot_days"])
            if fields["rot_days"] < 1:
                errors["rot_days"] = "must be at least 1 day (or empty for never)"
        except (TypeError, ValueError):
            errors["rot_days"] = f"must be a whole number of days, not {fields['rot_days']!r}"
    if errors:
        raise ValidationError("pipeline_stages", errors)


def _card_for_js(card: dict[str, Any]) -> dict[str, Any]:
    amount = card["amount"]
    return {
        "id": card["id"],
        "version": card["version"],
        "title": card["title"] or "",
        "organization": card["organization"] or "",
        "contact": card["contact"] or "",
        "amount": f"{amount:,.0f} {card['currency'] or ''}".strip() if amount is not None else "",
        "owner": card["owner"] or "",
        "expected_close": card["expected_close"] or "",
        "days_in_stage": card["days_in_stage"],
        "next_task": card["next_task"] or "",
        "rotting": card["rotting"],
        "overdue": card["overdue"],
        "probability": card["probability"],
    }


def parse_date(text: str | None) -> str | None:
    if _blank(text):
        return None
    return date.fromisoformat(str(text).strip()[:10]).isoformat()
