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


def author_refusal(ws: Any, rule: dict, table: str, record: dict, kind: str) -> str | None:
    """Why ``rule``'s author may not do a ``kind`` action on ``record`` (None: they may).

    A rule acts with its author's rights, whoever's write set it off: an admin's edit
    must not carry out what the member who wrote the rule could not do. The author is
    whoever saved the rule last (``rules.save`` stamps ``owner``). Setup mode (no users
    yet) allows everything, like the Store does.
    """
    store = ws.store
    if not store.scalar("SELECT count(*) FROM users"):
        return None
    author = rule.get("owner")
    rows = store.query("SELECT role, active FROM users WHERE username = ?", [author]) if author else []
    if not rows or rows[0]["active"] in (0, "0"):
        return f"the rule's author {author or '(nobody)'} is not an active user: the rule does nothing"
    role = rows[0]["role"]
    if role == "admin":
        return None
    if role != "member":
        return f"the rule's author {author} is a {role} and may not change data"
    if kind == "set_field" and not bool(ws.setting("members_edit_all", True)):
        owner = record.get("owner")
        if owner not in (None, "", author):
            return (
                f"{table} #{record.get('id')} belongs to {owner}: the rule's author {author} may edit only"
                " their own or unowned records (setting members_edit_all is off)"
            )
    return None
