"""The marketing's periodic work (``crm_tick`` inside ``crm serve``, ``crm marketing run`` from cron).

Each step is idempotent: A/B winners picked once their wait is over and queued for the
rest, the marketing queue delivered (the core outbox never sends a row twice), refusals
and delivery reports turned into bounces, and segments whose filters say "in the last N
days" rebuilt once an hour as time moves on.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from crm_workspace.data.store import utcnow

if TYPE_CHECKING:
    from crm_workspace import Workspace

RELATIVE_EVERY = timedelta(hours=1)
#: Messages one tick inside ``crm serve`` delivers at most (the rest goes out with the next ticks).
TICK_LIMIT = 500


def tick(
    workspace: Workspace, now: str | None = None, *, per_minute: int | None = None, limit: int | None = None
) -> dict[str, Any]:
    from . import bounces, segments, sending

    now = now or utcnow()
    report = sending.run(workspace, now, per_minute=per_minute, limit=limit)
    report["bounces"] = bounces.process_mailbox(workspace) if workspace.setting("marketing_bounce_mailbox", "") else {}
    moment = datetime.fromisoformat(now.replace("Z", "+00:00"))
    stale = (moment - RELATIVE_EVERY).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    due = workspace.query("SELECT id FROM segments WHERE kind = 'dynamic' AND coalesce(built_at, '') < ?", [stale])
    rebuilt = []
    for row in due:
        rebuilt += segments.rebuild(workspace, row["id"], relative_only=True)
    report["segments_rebuilt"] = [r["segment"] for r in rebuilt]
    return report


def run_sequences(workspace: Workspace, now: str | None = None, *, limit: int | None = None) -> dict | None:
    """The sequences' due steps (``crm marketing run``), or None when the sequences plugin is not enabled.

    Imported only when enabled (``workspace.plugins()``): marketing works without it. Inside
    ``crm serve`` the sequences plugin's own ``crm_tick`` does this, so ``tick`` does not.
    """
    if not any(p.name == "sequences" and p.enabled for p in workspace.plugins()):
        return None
    from .sequences.runner import run

    report = run(workspace, now, limit=limit or 1000)
    return {k: report[k] for k in ("enrolled", "steps", "emails", "exited", "completed", "failed", "sent")}
