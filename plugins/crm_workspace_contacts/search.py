"""Full-text search over contacts and organizations (SQLite FTS5).

User text is never FTS syntax: every whitespace-separated token is quoted (so
``"``, ``*``, ``-``, ``NEAR``, ``AND`` are plain text) and prefix-matched, so a
search box can run on every keystroke.
"""

from __future__ import annotations

from typing import Any

#: Relevance weights for contacts_fts columns (first, last, email, phone, organization, title, notes).
CONTACT_WEIGHTS = "10.0, 10.0, 6.0, 6.0, 3.0, 2.0, 1.0"
ORG_WEIGHTS = "10.0, 6.0, 2.0, 2.0, 1.0"
#: Search-as-you-type ranks the first RANK_WINDOW matches (in index order) and returns the best of
#: those: exact ranking when a term matches fewer rows, and a bounded cost (~ms) for a common term
#: that matches tens of thousands of rows (bm25 costs ~10 µs per matching row).
RANK_WINDOW = 500


def fts_query(text: str | None) -> str:
    """An FTS5 MATCH expression for ``text``: each token quoted and prefix-matched, all required.

    Returns "" when there is nothing searchable (only punctuation, or empty).
    """
    terms = []
    for token in (text or "").split():
        if not any(ch.isalnum() for ch in token):
            continue
        terms.append('"' + token.replace('"', '""') + '"*')
    return " ".join(terms)


def search_contacts(store: Any, text: str, limit: int = 50) -> list[dict]:
    """Contacts matching ``text``, best first: id, name, email, organization, rank."""
    match = fts_query(text)
    if not match:
        return []
    return store.query(
        "SELECT c.id, trim(coalesce(c.first_name, '') || ' ' || coalesce(c.last_name, '')) AS name, c.email,"
        " c.title, o.name AS organization, s.rank FROM"
        f" (SELECT rowid, bm25(contacts_fts, {CONTACT_WEIGHTS}) AS rank FROM contacts_fts"
        "  WHERE contacts_fts MATCH ? LIMIT ?) s"
        " JOIN contacts c ON c.id = s.rowid LEFT JOIN organizations o ON o.id = c.organization_id"
        " ORDER BY s.rank, c.id LIMIT ?",
        [match, max(RANK_WINDOW, int(limit)), int(limit)],
    )


def search_organizations(store: Any, text: str, limit: int = 50) -> list[dict]:
    match = fts_query(text)
    if not match:
        return []
    return store.query(
        "SELECT o.id, o.name, o.domain, o.city, o.country, s.rank FROM"
        f" (SELECT rowid, bm25(organizations_fts, {ORG_WEIGHTS}) AS rank FROM organizations_fts"
        "  WHERE organizations_fts MATCH ? LIMIT ?) s"
        " JOIN organizations o ON o.id = s.rowid ORDER BY s.rank, o.id LIMIT ?",
        [match, max(RANK_WINDOW, int(limit)), int(limit)],
    )


def search_frame(workspace: Any, query: str, limit: int = 20):
    """The ``crm_search`` answer: type, id, title, subtitle, rank (lower is better)."""
    import pandas as pd

    rows = [
        {
            "type": "contacts",
            "id": r["id"],
            "title": r["name"],
            "subtitle": " · ".join(x for x in (r["email"], r["organization"]) if x),
            "rank": r["rank"],
        }
        for r in search_contacts(workspace.store, query, limit)
    ]
    rows += [
        {
            "type": "organizations",
            "id": r["id"],
            "title": r["name"],
            "subtitle": " · ".join(x for x in (r["domain"], r["city"], r["country"]) if x),
            "rank": r["rank"],
        }
        for r in search_organizations(workspace.store, query, limit)
    ]
    return pd.DataFrame(rows, columns=["type", "id", "title", "subtitle", "rank"])
