"""The service's periodic work (the core scheduler's ``crm_tick``): mail in, replies out, escalations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import clock

if TYPE_CHECKING:
    from crm_workspace import Workspace


def tick(workspace: Workspace, now: str | None = None) -> dict:
    """Fetch the support mailbox (when one is set), deliver queued replies, escalate breaches."""
    from . import escalation
    from .outbound import send_pending

    done: dict = {}
    if workspace.setting("service_mailbox", ""):
        from .inbound import fetch

        done["fetched"] = str(fetch(workspace))
    done["escalated"] = escalation.run(workspace, clock.parse(now) if now else clock.now())
    done["delivered"] = str(send_pending(workspace))
    return done
