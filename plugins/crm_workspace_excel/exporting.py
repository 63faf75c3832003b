"""What ``crm export`` writes: each table with names instead of ids, so it re-imports cleanly."""

from __future__ import annotations

from crm_workspace import CrmError

QUERIES = {
    "contacts": (
        "SELECT c.id, c.first_name, c.last_name, c.email, c.phone, c.title, o.name AS organization,"
        " c.stakeholder_type, c.lifecycle_stage, c.source, c.notes, c.owner, c.created_at, c.updated_at"
        " FROM contacts c LEFT JOIN organizations o ON o.id = c.organization_id ORDER BY c.id"
    ),
    "organizations": (
        "SELECT id, name, domain, industry, city, country, phone, website, owner, created_at, updated_at"
        " FROM organizations ORDER BY id"
    ),
    "deals": (
        "SELECT d.id, d.title, o.name AS organization, c.email AS contact, d.stage, d.amount, d.currency,"
        " d.probability, d.expected_close, d.status, d.lost_reason, d.closed_at, d.source, d.owner,"
        " d.created_at, d.updated_at FROM deals d LEFT JOIN organizations o ON o.id = d.organization_id"
        " LEFT JOIN contacts c ON c.id = d.contact_id ORDER BY d.id"
    ),
}


def export_frame(workspace, entity: str):
    """The rows of ``entity`` as a DataFrame (any other table: as stored)."""
    if entity in QUERIES:
        return workspace.df(QUERIES[entity])
    if entity in ("audit_log",):
        raise CrmError("the audit log is exported with its own tools, not as a spreadsheet")
    return workspace.df(entity)
