"""Who reports to whom inside one organization, from ``reports_to`` relationships."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crm_workspace import NotFound

if TYPE_CHECKING:
    from crm_workspace import Workspace


def org_chart(ws: Workspace, organization_id: int) -> list[dict[str, Any]]:
    """The organization's people as a forest from ``reports_to`` links (source reports to target).

    Each node: ``{"id", "name", "title", "children": [...]}``. Roots are people with no
    manager inside the organization; a reporting cycle is broken where it is met.
    """
    people = ws.store.query(
        "SELECT id, trim(coalesce(first_name,'') || ' ' || coalesce(last_name,'')) AS name, coalesce(title,'') AS title"
        " FROM contacts WHERE organization_id = ? ORDER BY last_name, first_name, id",
        [int(organization_id)],
    )
    if not people and not ws.store.query("SELECT 1 FROM organizations WHERE id = ?", [int(organization_id)]):
        raise NotFound(f"organizations #{organization_id} does not exist")
    by_id = {p["id"]: {**p, "children": []} for p in people}
    links = ws.store.query(
        "SELECT source_id, target_id FROM relationships WHERE kind = 'reports_to'"
        " AND source_type = 'contacts' AND target_type = 'contacts'"
        " AND source_id IN (SELECT id FROM contacts WHERE organization_id = :o)"
        " AND target_id IN (SELECT id FROM contacts WHERE organization_id = :o) ORDER BY id",
        {"o": int(organization_id)},
    )
    manager: dict[int, int] = {}
    for link in links:
        report, boss = link["source_id"], link["target_id"]
        if report in manager or report == boss:
            continue  # one manager each: the first link wins
        # refuse a link that would close a cycle
        up, seen = boss, set()
        while up in manager and up not in seen:
            seen.add(up)
            up = manager[up]
        if up == report:
            continue
        manager[report] = boss
    roots = []
    for pid, node in by_id.items():
        boss = manager.get(pid)
        (by_id[boss]["children"] if boss is not None else roots).append(node)
    return roots
