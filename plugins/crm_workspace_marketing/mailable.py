"""Who may get marketing e-mail: ONE definition for campaigns and sequences.

``mailable_sql(alias)`` is an SQL condition on a ``contacts`` row (alias ``c`` by default):
marketing consent given, an e-mail address, the address not suppressed (bounced). It is
a plain conjunction so the campaign audience keeps using the consent index.
``refusal(workspace, contact)`` says why one person may not be mailed now, or None.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crm_workspace import Workspace


def mailable_sql(alias: str = "c") -> str:
    """The condition (no leading AND) that contact ``alias`` may receive marketing e-mail."""
    if not alias.isidentifier():
        raise ValueError(f"not an SQL alias: {alias!r}")
    return (
        f"{alias}.marketing_consent = 1 AND {alias}.email LIKE '%_@_%'"
        f" AND lower({alias}.email) NOT IN (SELECT email FROM marketing_suppressions WHERE suppressed = 1)"
    )


def refusal(workspace: Workspace, contact: dict[str, Any]) -> str | None:
    """Why ``contact`` may not get marketing e-mail now (by ``mailable_sql``), or None."""
    if workspace.store.scalar(f"SELECT 1 FROM contacts c WHERE c.id = ? AND {mailable_sql('c')}", [contact["id"]]):
        return None
    if contact.get("marketing_consent") == 0:
        return "unsubscribed"
    if contact.get("marketing_consent") != 1:
        return "no marketing consent"
    if not re.search(r".@.", str(contact.get("email") or ""), re.DOTALL):  # LIKE '%_@_%'
        return "no e-mail address"
    return "address suppressed (bounced)"
