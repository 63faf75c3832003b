"""One deal: moves between stages (won needs a date, lost a reason), quick add, its form, its people.

``deals_of`` lists the deals of a contact or an organization for their record pages.
"""

from __future__ import annotations

from typing import Any

from crm_workspace import Workspace
from crm_workspace.errors import ValidationError

from .filters import PipelineFilters
from .stages import stages_of
from .values import blank

#: what the deal form may change
DEAL_FIELDS = ("title", "amount", "currency", "probability", "expected_close", "owner", "organization_id", "contact_id")


class DealActions(PipelineFilters):
    """Writes and reads of single deals, in this pipeline."""

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
            if blank(lost_reason):
                raise ValidationError("deals", {"lost_reason": "choose why the deal was lost before moving it to Lost"})
            changes["lost_reason"] = lost_reason.strip()
        if target["status"] in ("won", "lost") and not blank(won_date):
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
            if blank(changes["probability"]):
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


def deals_of(workspace: Workspace, table: str, record_id: int, limit: int = 50) -> list[dict[str, Any]]:
    """The deals of a contact (``table`` "contacts") or an organization, open ones first."""
    column = "contact_id" if table == "contacts" else "organization_id"
    return workspace.query(
        f"SELECT id, title, stage, status, amount, currency, probability, expected_close, owner FROM deals"
        f" WHERE {column} = ? ORDER BY status = 'open' DESC, expected_close LIMIT ?",
        [record_id, int(limit)],
    )
