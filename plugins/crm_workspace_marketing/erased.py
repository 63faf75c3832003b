"""People ``crm privacy erase`` anonymised: no segment, list or sequence ever takes them again.

The core keeps the list of erased contacts (``erased_contacts``, written by the erasure,
read through ``crm_workspace.services.privacy``): segment filters and static lists exclude
them with its ``not_erased`` condition, enrolments with ``erased``. What is left here is
taking an erased person off the segments they were in, in the erasure's own write.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from crm_workspace.services.privacy import erased_in

if TYPE_CHECKING:
    from crm_workspace import Change, Workspace


def forget(workspace: Workspace, changes: list[Change]) -> list[int]:
    """Take the contacts these writes erased off every segment and list; their ids."""
    ids = sorted(erased_in(workspace, changes))  # the flag alone is no proof: the core's list says
    if ids:
        workspace.store.conn.execute(
            "DELETE FROM segment_members WHERE contact_id IN (SELECT value FROM json_each(?))", [json.dumps(ids)]
        )
    return ids
