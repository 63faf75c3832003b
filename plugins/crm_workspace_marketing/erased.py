"""People ``crm privacy erase`` anonymised: no segment, list or sequence ever takes them again.

The core marks an erasure with an ``erase`` entry in the audit trail and a contacts change
whose context says ``privacy_erasure``; ``marketing_erased`` keeps the ids (filled from the
audit trail for people erased before it existed, see schema.py) so segment filters and
enrolments exclude them with one small ``NOT IN``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from crm_workspace.data.store import utcnow

if TYPE_CHECKING:
    from crm_workspace import Change, Workspace

#: The ids of erased contacts, as a subquery.
ERASED_IDS = "SELECT contact_id FROM marketing_erased"


def not_erased(column: str = "c.id") -> str:
    """An SQL condition: the contact id in ``column`` is not an erased person's."""
    return f"{column} NOT IN ({ERASED_IDS})"


def mark(workspace: Workspace, changes: list[Change]) -> list[int]:
    """Record the contacts these writes erased and take them off every segment and list; their ids."""
    ids = sorted({int(c.id) for c in changes if c.table == "contacts" and (c.context or {}).get("privacy_erasure")})
    if ids:
        conn, marks = workspace.store.conn, json.dumps(ids)
        conn.execute(
            "INSERT OR IGNORE INTO marketing_erased (contact_id, erased_at) SELECT value, ? FROM json_each(?)",
            [utcnow(), marks],
        )
        conn.execute("DELETE FROM segment_members WHERE contact_id IN (SELECT value FROM json_each(?))", [marks])
    return ids
