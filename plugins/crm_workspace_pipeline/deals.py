"""One deal: moves between stages (won needs a date, lost a reason), quick add, its form, its people.

``deals_of`` lists the deals of a contact or an organization for their record pages.
"""

from __future__ import annotations

from typing import Any

from crm_workspace import Change, Workspace
from crm_workspace.errors import ValidationError

from .filters import PipelineFilters
from .stages import stages_of
from .values import blank

#: the channel of the timeline notes a deal's stage moves write (see ``move_notes``)
MOVE_CHANNEL = "pipeline"

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
        if "owner" in changes:
            self._check_owner(deal_id, changes["owner"])
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
        """The people on the deal: its contact first, then those with an activity on it.

        Not everyone at its organization: the relationship analysis calls a deal with one
        person on it single-threaded, and this list must say the same.
        """
        return self.store.query(
            "SELECT c.id, c.first_name, c.last_name, c.title, c.email, c.phone, c.id = d.contact_id AS primary_contact"
            " FROM deals d JOIN contacts c ON c.id = d.contact_id"
            " OR c.id IN (SELECT contact_id FROM activities WHERE deal_id = d.id AND contact_id IS NOT NULL)"
            " WHERE d.id = ? ORDER BY primary_contact DESC, c.last_name, c.first_name LIMIT 25",
            [deal_id],
        )

    def owner_choices(self) -> dict[str, str]:
        """The team members a deal can be given to: ``{"Display name (username)": username}``."""
        rows = self.store.query(
            "SELECT username, display_name FROM users WHERE coalesce(active, 1) ORDER BY coalesce(display_name, username)"
        )
        return {_person_label(r["display_name"], r["username"]): r["username"] for r in rows}

    def organization_choices(self, text: str = "", current: int | None = None, limit: int = 20) -> dict[str, int]:
        """Organizations whose name contains ``text`` (and ``current``): ``{"Name (#id)": id}``; blank text:
        ``current`` alone (it names the chosen one, without sorting the whole table)."""
        limit = limit if text.strip() else 0
        rows = self.store.query(
            "SELECT id, name FROM organizations WHERE id = :current"
            " UNION ALL SELECT * FROM (SELECT id, name FROM organizations WHERE name LIKE :text AND id IS NOT :current"
            " ORDER BY name, id LIMIT :limit)",
            {"current": current, "text": f"%{text.strip()}%", "limit": int(limit)},
        )
        return {f"{r['name'] or '(no name)'} (#{r['id']})": r["id"] for r in rows}

    def contact_choices(
        self, text: str = "", current: int | None = None, organization_id: int | None = None, limit: int = 20
    ) -> dict[str, int]:
        """Contacts whose name or email contains ``text``, the deal's organization's people first; blank
        text: ``current`` alone."""
        limit = limit if text.strip() else 0
        rows = self.store.query(
            "SELECT id, first_name, last_name, email FROM contacts WHERE id = :current"
            " UNION ALL SELECT * FROM (SELECT id, first_name, last_name, email FROM contacts"
            " WHERE (coalesce(first_name, '') || ' ' || coalesce(last_name, '') LIKE :text OR email LIKE :text)"
            " AND id IS NOT :current ORDER BY organization_id IS NOT :org, last_name, first_name, id LIMIT :limit)",
            {"current": current, "text": f"%{text.strip()}%", "org": organization_id, "limit": int(limit)},
        )
        return {_contact_label(r): r["id"] for r in rows}

    def deal_card(self, deal_id: int) -> dict[str, Any]:
        """The deal with the names a person reads: its stage's label, organization and contact."""
        deal = self.deal(deal_id)
        names = self.store.query(
            "SELECT (SELECT label FROM pipeline_stages WHERE pipeline = :pipeline AND stage = :stage) AS stage_label,"
            " (SELECT name FROM organizations WHERE id = :org) AS organization,"
            " (SELECT trim(coalesce(first_name, '') || ' ' || coalesce(last_name, '')) FROM contacts"
            "  WHERE id = :contact) AS contact",
            {
                "pipeline": deal["pipeline"],
                "stage": deal["stage"],
                "org": deal["organization_id"],
                "contact": deal["contact_id"],
            },
        )[0]
        return {**deal, **names}

    def _check_owner(self, deal_id: int, owner: Any) -> None:
        """A deal's owner is someone on the team (or nobody): "nobody" typed as a name is refused."""
        if blank(owner) or owner == self.deal(deal_id).get("owner"):
            return
        if not self.store.query("SELECT 1 FROM users WHERE username = ?", [owner]):
            raise ValidationError("deals", {"owner": f"{owner!r} is not on the team: choose a team member"})

    def deal_timeline(self, deal_id: int, limit: int = 50) -> list[dict[str, Any]]:
        """Activities on the deal, newest first, and its stage moves from the audit trail (stages by label)."""
        rows = self.store.query(
            "SELECT occurred_at AS at, kind, subject, owner AS who, due_at, done, NULL AS was, NULL AS now"
            " FROM activities WHERE deal_id = :id AND coalesce(channel, '') != :moves"
            " UNION ALL SELECT at, 'stage', NULL, user, NULL, NULL, json_extract(changes, '$.before.stage'),"
            " json_extract(changes, '$.after.stage') FROM audit_log"
            " WHERE table_name = 'deals' AND row_id = CAST(:id AS TEXT)"
            " AND json_extract(changes, '$.after.stage') IS NOT NULL"
            " ORDER BY at DESC LIMIT :limit",
            {"id": deal_id, "limit": limit, "moves": MOVE_CHANNEL},
        )
        pipeline = self.deal(deal_id)["pipeline"] if rows else None
        labels = {s["stage"]: s["label"] or s["stage"] for s in stages_of(self.workspace, pipeline)} if rows else {}
        for row in rows:
            was, now = row.pop("was"), row.pop("now")
            if row["kind"] == "stage":
                now = labels.get(now, now)
                row["subject"] = f"Created in {now}" if was is None else f"Moved {labels.get(was, was)} → {now}"
        return rows


def _person_label(display_name: str | None, username: str) -> str:
    return f"{display_name} ({username})" if display_name and display_name != username else username


def _contact_label(row: dict[str, Any]) -> str:
    name = " ".join(p for p in (row["first_name"], row["last_name"]) if p) or "(no name)"
    return f"{name} <{row['email']}> (#{row['id']})" if row["email"] else f"{name} (#{row['id']})"


def move_notes(workspace: Workspace, changes: list[Change]) -> list[dict[str, Any]]:
    """A note for the timeline of each deal moved to another stage (won and lost too), for its contact.

    Written in the move's transaction (``crm_record_changed``); the channel marks them so the
    deal's own timeline, which reads the moves from the audit trail, does not show them twice.
    """
    notes = []
    for change in changes:
        if change.table != "deals" or change.action != "update" or not change.changed("stage"):
            continue
        deal = change.after or {}
        if deal.get("contact_id") is None and deal.get("organization_id") is None:
            continue
        labels = dict(
            workspace.store.conn.execute(
                "SELECT stage, coalesce(label, stage) FROM pipeline_stages WHERE pipeline = ? AND stage IN (?, ?)",
                [deal.get("pipeline") or "default", (change.before or {}).get("stage"), deal.get("stage")],
            ).fetchall()
        )
        before, after = (change.before or {}).get("stage"), deal.get("stage")
        subject = f"Deal “{deal.get('title') or ''}” moved: {labels.get(before, before)} → {labels.get(after, after)}"
        if deal.get("status") == "lost" and deal.get("lost_reason"):
            subject += f" (lost: {deal['lost_reason']})"
        notes.append(
            {
                "kind": "note",
                "subject": subject,
                "channel": MOVE_CHANNEL,
                "contact_id": deal.get("contact_id"),
                "organization_id": deal.get("organization_id"),
                "deal_id": change.id,
                "occurred_at": change.at,
                "done": 1,
                "owner": change.user,
            }
        )
    return notes


def deals_of(workspace: Workspace, table: str, record_id: int, limit: int = 50) -> list[dict[str, Any]]:
    """The deals of a contact (``table`` "contacts") or an organization, open ones first."""
    column = "contact_id" if table == "contacts" else "organization_id"
    return workspace.query(
        f"SELECT id, title, stage, status, amount, currency, probability, expected_close, owner FROM deals"
        f" WHERE {column} = ? ORDER BY status = 'open' DESC, expected_close LIMIT ?",
        [record_id, int(limit)],
    )
