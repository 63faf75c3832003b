"""Who is acting: admin checks and the system actor the background delivery runs as."""

from __future__ import annotations

from typing import Any

from crm_workspace.errors import PermissionDenied


def is_admin(ws: Any) -> bool:
    """An admin, the system actor (``as_system``), or anyone in a workspace without users yet (setup mode)."""
    if getattr(ws, "system", False):
        return True
    if not ws.store.scalar("SELECT count(*) FROM users"):
        return True
    row = ws.store.query("SELECT role, active FROM users WHERE username = ?", [ws.user])
    return bool(row) and row[0]["role"] == "admin" and row[0]["active"] != 0


def require_admin(ws: Any, what: str) -> None:
    if not is_admin(ws):
        raise PermissionDenied(f"only an admin may {what} ({ws.user} is not one)")


def system(ws: Any) -> Any:
    """The workspace acting as ``system:automation`` (background work: deliveries, time rules)."""
    return ws if ws.system else ws.as_system("automation")
