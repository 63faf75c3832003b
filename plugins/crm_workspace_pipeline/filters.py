"""What a person looks at in a pipeline: the filters every board, card list and forecast share.

``PipelineFilters`` holds the params (pipeline, owner or "my deals", organization,
expected-close range, minimum amount, rotting only, card order, cards shown) and turns
them into one SQL ``WHERE`` over ``deals d``. The board, forecast and deal queries
are built on it (``board_data``, ``forecast``, ``deals``) and meet in ``PipelineModel``.
"""

from __future__ import annotations

from typing import Any

import param

from crm_workspace import Workspace
from crm_workspace.data.store import utcnow
from crm_workspace.errors import ValidationError

from . import stages as stage_settings
from .values import Day

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

#: the filters: changing one (or the order) starts every column at its first page again
FILTERS = (
    "pipeline",
    "mine",
    "owner",
    "organization_id",
    "organization",
    "close_from",
    "close_to",
    "min_amount",
    "rotting_only",
)
#: what, besides the data and the clock, decides a board (``shown`` too, made hashable)
BOARD_PARAMS = (*FILTERS, "sort", "page_size")


class PipelineFilters(param.Parameterized):
    """One person's view of a pipeline: filters, sort, how many cards each column shows."""

    workspace = param.ClassSelector(class_=Workspace)
    pipeline = param.Selector(
        default="default", objects=["default"], check_on_set=False, doc="The pipeline shown (its stages)."
    )
    mine = param.Boolean(default=False, doc="Only the acting user's deals ('my deals'; wins over owner).")
    owner = param.String(default=None, allow_None=True, doc="Only this owner's deals.")
    organization_id = param.Integer(default=None, allow_None=True)
    organization = param.String(default=None, allow_None=True, doc="Organization name contains this text.")
    close_from = Day(default=None, allow_None=True, doc="Expected close on or after (YYYY-MM-DD).")
    close_to = Day(default=None, allow_None=True, doc="Expected close on or before (YYYY-MM-DD).")
    min_amount = param.Number(default=None, allow_None=True)
    rotting_only = param.Boolean(default=False)
    sort = param.Selector(default="expected close", objects=list(SORTS))
    page_size = param.Integer(default=50, bounds=(1, 1000))
    shown = param.Dict(default={}, doc="Cards shown per stage beyond the first page ('load more').")
    as_of = param.String(default=None, allow_None=True, doc="'Now' for rotting and overdue (tests, replays).")

    def first_page_again(self) -> None:
        """Show each column's first page only, as after a change of filters or order.

        Called by the page that changes them, not watched here: a watcher costs every
        model ~2 ms to make (param copies each watched parameter per instance), and
        data views, commands and benchmarks make one per call.
        """
        if self.shown:
            self.shown = {}

    # ------------------------------------------------------------ basics
    @property
    def store(self):
        return self.workspace.store

    def now(self) -> str:
        return self.as_of or utcnow()

    def stages(self) -> list[dict[str, Any]]:
        """This pipeline's stages in board order."""
        return stage_settings.stages_of(self.workspace, self.pipeline)

    def stage(self, name: str) -> dict[str, Any]:
        for stage in self.stages():
            if stage["stage"] == name:
                return stage
        raise ValidationError("deals", {"stage": f"unknown stage {name!r} in pipeline {self.pipeline!r}"})

    def pipelines(self) -> list[str]:
        return stage_settings.pipelines(self.workspace)

    def load_pipelines(self) -> None:
        """Offer every pipeline of the workspace as a choice of ``pipeline`` (for a select bound to it)."""
        self.param.pipeline.objects = self.pipelines()

    def owners(self, limit: int = 200) -> list[str]:
        """The owners of deals, for an owner filter's choices."""
        rows = self.store.query(
            "SELECT DISTINCT owner FROM deals WHERE owner IS NOT NULL ORDER BY 1 LIMIT ?", [int(limit)]
        )
        return [r["owner"] for r in rows]

    def owner_filter(self) -> str | None:
        """The owner whose deals are shown: the acting user for "my deals", else ``owner``."""
        return self.workspace.user if self.mine else (self.owner or None)

    def filtered(self) -> bool:
        return any(
            v not in (None, "", False)
            for v in (
                self.owner_filter(),
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
        owner = self.owner_filter()
        if owner:
            clauses.append("d.owner = :owner")
            params["owner"] = owner
        if self.organization_id is not None:
            clauses.append("d.organization_id = :organization_id")
            params["organization_id"] = self.organization_id
        if self.organization:
            clauses.append("d.organization_id IN (SELECT o2.id FROM organizations o2 WHERE o2.name LIKE :organization)")
            params["organization"] = f"%{self.organization.strip()}%"
        if self.close_from:
            clauses.append("d.expected_close >= :close_from")
            params["close_from"] = self.close_from.isoformat()
        if self.close_to:
            clauses.append("d.expected_close <= :close_to")
            params["close_to"] = self.close_to.isoformat()
        if self.min_amount is not None:
            clauses.append("d.amount >= :min_amount")
            params["min_amount"] = float(self.min_amount)
        if self.rotting_only:
            clauses.append(ROTTING)
        return " AND ".join(clauses), params
