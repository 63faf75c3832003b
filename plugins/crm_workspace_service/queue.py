"""The ticket queue in SQL: views (mine, unassigned, breaching soon, by team...), filters, keyset pages.

Open tickets are ordered by ``sla_sort`` (the next SLA due time, far future when none) then
id, over the index ``(is_open, sla_sort, id)`` (and its per-assignee and per-team twins), so the
first page and every next one cost the same at 1k or 1M tickets: ``(sla_sort, id) > (?, ?)``
continues where the last page stopped. Other views walk ``id`` downwards.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from crm_workspace.errors import CrmError

from . import clock
from .rules import FAR, load_policies
from .schema import PRIORITIES, STATUSES
from .sla import add_business_minutes, iso

if TYPE_CHECKING:
    from crm_workspace import Workspace

VIEWS = {
    "open": "All open",
    "mine": "My tickets",
    "unassigned": "Unassigned",
    "breaching": "Breaching soon",
    "breached": "Breached",
    "pending": "Waiting on customer",
    "flagged": "Needs review (merge queue)",
    "solved": "Solved",
    "all": "All tickets",
}
#: Views ordered by next SLA due time; the others newest first.
DUE_ORDER = {"open", "mine", "unassigned", "breaching", "breached", "flagged"}
COLUMNS = (
    "t.id, t.subject, t.status, t.priority, t.assignee, t.team, t.channel, t.sla_due_at, t.sla_sort,"
    " t.updated_at, t.created_at, t.flag, t.version, t.requester_id, t.sla_policy_id,"
    " trim(coalesce(c.first_name, '') || ' ' || coalesce(c.last_name, '')) AS requester,"
    " o.name AS organization"
)


@dataclass(frozen=True)
class Filters:
    view: str = "open"
    team: str | None = None
    assignee: str | None = None
    priority: str | None = None
    status: str | None = None
    text: str | None = None

    @classmethod
    def from_json(cls, text: str) -> Filters:
        data = json.loads(text or "{}")
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in self.__dict__.items() if v})


def soon_moments(workspace: Workspace, now: datetime) -> dict[int, str]:
    """Per policy, the moment ``service_sla_soon_minutes`` business minutes from now."""
    minutes = float(workspace.setting("service_sla_soon_minutes", 60) or 60)
    out = {}
    for pid, policy in load_policies(workspace.store).items():
        moment = add_business_minutes(policy.calendar, now, minutes)
        out[pid] = iso(moment) if moment else FAR
    return out


def _where(workspace: Workspace, f: Filters, now: datetime) -> tuple[list[str], list[Any]]:
    if f.view not in VIEWS:
        raise CrmError(f"unknown view {f.view!r} (views: {', '.join(VIEWS)})")
    where, params = [], []
    if f.view in DUE_ORDER:
        where.append("t.is_open = 1")
    if f.view == "mine":
        where.append("t.assignee = ?")
        params.append(workspace.user)
    elif f.view == "unassigned":
        where.append("t.assignee IS NULL")
    elif f.view == "breached":
        where.append("t.sla_sort <= ?")
        params.append(iso(now))
    elif f.view == "breaching":
        moments = soon_moments(workspace, now)
        where.append("t.sla_sort > ? AND t.sla_sort <= ?")
        params += [iso(now), max(moments.values(), default=iso(now))]
        if len(set(moments.values())) > 1:
            where.append("(" + " OR ".join("(t.sla_policy_id = ? AND t.sla_sort <= ?)" for _ in moments) + ")")
            for pid, moment in moments.items():
                params += [pid, moment]
    elif f.view == "pending":
        where.append("t.status = 'pending'")
    elif f.view == "flagged":
        where.append("t.flag IS NOT NULL")
    elif f.view == "solved":
        where.append("t.status = 'solved'")
    for column in ("team", "assignee", "priority", "status"):
        value = getattr(f, column)
        if value:
            if (column == "priority" and value not in PRIORITIES) or (column == "status" and value not in STATUSES):
                raise CrmError(f"unknown {column} {value!r}")
            where.append(f"t.{column} = ?")
            params.append(value)
    if f.text:
        text = f.text.strip()
        if text.lstrip("#").isdigit():
            where.append("t.id = ?")
            params.append(int(text.lstrip("#")))
        else:
            where.append("t.subject LIKE ? ESCAPE '\\'")
            params.append("%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
    return where, params


def page(
    workspace: Workspace,
    filters: Filters = Filters(),
    *,
    after: tuple | None = None,
    limit: int = 50,
    now: datetime | None = None,
) -> tuple[list[dict], tuple | None]:
    """One page of the queue and the cursor of the next (None at the end)."""
    now = now or clock.now()
    where, params = _where(workspace, filters, now)
    by_due = filters.view in DUE_ORDER
    if after is not None:
        if by_due:
            where.append("(t.sla_sort, t.id) > (?, ?)")
            params += [after[0], after[1]]
        else:
            where.append("t.id < ?")
            params.append(after[0])
    order = "t.sla_sort, t.id" if by_due else "t.id DESC"
    sql = (
        f"SELECT {COLUMNS} FROM (SELECT * FROM tickets t WHERE {' AND '.join(where) or '1'} ORDER BY {order} LIMIT ?) t"
        f" LEFT JOIN contacts c ON c.id = t.requester_id LEFT JOIN organizations o ON o.id = t.organization_id"
        f" ORDER BY {order}"
    )
    rows = workspace.query(sql, [*params, int(limit) + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = None
    if more and rows:
        last = rows[-1]
        cursor = (last["sla_sort"], last["id"]) if by_due else (last["id"],)
    return rows, cursor


def count(workspace: Workspace, filters: Filters, now: datetime | None = None) -> int:
    where, params = _where(workspace, filters, now or clock.now())
    return int(
        workspace.store.scalar(f"SELECT count(*) FROM tickets t WHERE {' AND '.join(where) or '1'}", params) or 0
    )


def marker(row: dict, now: datetime, soon: dict[int, str] | None = None) -> str:
    """A queue row's SLA marker from its stored due time: breached, soon, paused, ok or none."""
    due = row.get("sla_due_at")
    if row.get("status") in ("pending", "on_hold") and not due:
        return "paused"
    if not due:
        return "none"
    if due <= iso(now):
        return "breached"
    limit = (soon or {}).get(row.get("sla_policy_id"), max((soon or {}).values(), default=""))
    return "soon" if limit and due <= limit else "ok"


def saved_views(workspace: Workspace) -> list[dict]:
    """The acting user's saved views and the shared ones (owner empty)."""
    return workspace.query(
        "SELECT id, name, owner, filters FROM ticket_views WHERE owner IS NULL OR owner = ? ORDER BY name",
        [workspace.user],
    )


def save_view(workspace: Workspace, name: str, filters: Filters, *, shared: bool = False) -> dict:
    name = (name or "").strip()
    if not name:
        raise CrmError("give the view a name")
    return workspace.store.insert(
        "ticket_views",
        {
            "name": name,
            "owner": None if shared else workspace.user,
            "filters": filters.to_json(),
            "created_at": clock.now_iso(),
        },
    )


def teams(workspace: Workspace) -> list[str]:
    return [
        r["team"]
        for r in workspace.query(
            "SELECT DISTINCT team FROM tickets WHERE is_open = 1 AND team IS NOT NULL ORDER BY team"
        )
    ]


def board(workspace: Workspace, *, limit: int = 30) -> dict[str, list[dict]]:
    """The board by status: the first ``limit`` tickets of each status column (most urgent first)."""
    out = {}
    for status in ("new", "open", "pending", "on_hold", "solved"):
        out[status] = workspace.query(
            f"SELECT {COLUMNS} FROM (SELECT * FROM tickets WHERE status = ? ORDER BY id DESC LIMIT ?) t"
            " LEFT JOIN contacts c ON c.id = t.requester_id LEFT JOIN organizations o ON o.id = t.organization_id"
            " ORDER BY t.sla_sort, t.id",
            [status, limit],
        )
    return out
