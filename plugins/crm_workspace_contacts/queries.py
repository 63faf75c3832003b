"""The contact and organization lists as SQL: filters, sorts, paging, counts, filter choices.

Every list is filtered, sorted and paged in SQL; the pages and the data views
(``ws.df("contacts.list", ...)``) call the same functions, so an analyst gets
exactly what the page shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from crm_workspace import Workspace

from .search import CONTACT_WEIGHTS, ORG_WEIGHTS, RANK_WINDOW, fts_query

PAGE_SIZE = 50
COUNT_CAP = 10_000

LAST_TOUCHED = "(SELECT max(a.occurred_at) FROM activities a WHERE a.contact_id = c.id)"
CONTACT_SORTS = {
    "last_name": "c.last_name {d}, c.first_name {d}, c.id {d}",
    "first_name": "c.first_name {d}, c.id {d}",
    "email": "c.email {d}, c.id {d}",
    "organization": "organization {d}, c.id {d}",
    "stakeholder_type": "c.stakeholder_type {d}, c.id {d}",
    "lifecycle_stage": "c.lifecycle_stage {d}, c.id {d}",
    "owner": "c.owner {d}, c.id {d}",
    "updated_at": "c.updated_at {d}, c.id {d}",
    "last_touched": "last_touched {d}, c.id {d}",
}
ORG_SORTS = {
    "name": "o.name COLLATE NOCASE {d}, o.id {d}",
    "industry": "o.industry {d}, o.id {d}",
    "city": "o.city {d}, o.id {d}",
    "country": "o.country {d}, o.id {d}",
    "owner": "o.owner {d}, o.id {d}",
    "contacts": "contacts {d}, o.id {d}",
}
CONTACT_COLUMNS = [
    "id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "title",
    "organization",
    "stakeholder_type",
    "lifecycle_stage",
    "owner",
    "last_touched",
]
ORG_COLUMNS = ["id", "name", "domain", "industry", "city", "country", "owner", "contacts"]


def contact_filters(
    *,
    search: str = "",
    stakeholder_type: str | None = None,
    lifecycle_stage: str | None = None,
    owner: str | None = None,
    organization_id: int | None = None,
    tag: str | None = None,
    touched_after: str | date | None = None,
    touched_before: str | date | None = None,
) -> tuple[str, list, str]:
    """(joins+where SQL, params, fts match) for the contact list filters (dates as ISO text or date)."""
    where, params = [], []
    match = fts_query(search) if search else ""
    if match:
        where.append("c.id IN (SELECT rowid FROM contacts_fts WHERE contacts_fts MATCH ?)")
        params.append(match)
    elif search and search.strip():
        where.append("0")  # only punctuation: nothing can match
    for column, value in (
        ("stakeholder_type", stakeholder_type),
        ("lifecycle_stage", lifecycle_stage),
        ("owner", owner),
        ("organization_id", organization_id),
    ):
        if value not in (None, "", "(any)"):
            where.append(f"c.{column} = ?")
            params.append(value)
    if tag not in (None, "", "(any)"):
        where.append("c.id IN (SELECT contact_id FROM contact_tags WHERE tag = ?)")
        params.append(tag)
    if touched_after:
        where.append(f"{LAST_TOUCHED} >= ?")
        params.append(str(touched_after))
    if touched_before:
        where.append(f"coalesce({LAST_TOUCHED}, '') < ?")
        params.append(str(touched_before))
    return (" WHERE " + " AND ".join(where)) if where else "", params, match


@dataclass(frozen=True)
class Ranking:
    """A search ranked by relevance: the FTS table, its bm25 weights, the match, and the other filters.

    ``window``: rank only that many matches (in index order), for a bounded first page.
    """

    fts: str
    weights: str
    match: str
    where: str = ""
    params: list = field(default_factory=list)
    window: int | None = None


def paged_list(
    workspace: Workspace,
    *,
    select: str,
    table: str,
    alias: str,
    joins: str = "",
    where: str = "",
    params: list | None = None,
    order: str,
    ranking: Ranking | None = None,
    limit: int | None = PAGE_SIZE,
    offset: int = 0,
) -> list[dict]:
    """One page of a list: ``select`` from ``table alias`` (+ ``joins``), filtered by ``where``.

    Sorted by ``order``, or by relevance (then id) when a ``ranking`` is given; the
    contact and organization lists (pages, data views) are both this query.
    """
    if ranking is not None:
        window = f" LIMIT {int(ranking.window)}" if ranking.window else ""
        sql = (
            f"{select} FROM (SELECT rowid, bm25({ranking.fts}, {ranking.weights}) AS rank FROM {ranking.fts}"
            f" WHERE {ranking.fts} MATCH ?{window}) s JOIN {table} {alias} ON {alias}.id = s.rowid"
            f"{joins}{ranking.where} ORDER BY s.rank, {alias}.id"
        )
        params = [ranking.match, *ranking.params]
    else:
        sql = f"{select} FROM {table} {alias}{joins}{where} ORDER BY {order}"
    if limit is not None:
        sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
    return workspace.store.query(sql, params or [])


def _order(sorts: dict[str, str], sort: str | None, default: str, descending: bool) -> str:
    return sorts.get(sort or default, sorts[default]).format(d="DESC" if descending else "ASC")


def list_contacts(
    workspace: Workspace,
    *,
    sort: str | None = None,
    descending: bool = False,
    limit: int | None = PAGE_SIZE,
    offset: int = 0,
    **filters: Any,
) -> list[dict]:
    """One page of the contact list; sorted by relevance when searching without an explicit sort."""
    where, params, match = contact_filters(**filters)
    ranking = None
    if match and not sort:
        # Unfiltered first pages rank a bounded window of matches (see search.RANK_WINDOW).
        others, others_params, _ = contact_filters(**{**filters, "search": ""})  # the join does the matching
        bounded = not others_params and limit is not None and offset + limit <= RANK_WINDOW
        ranking = Ranking(
            "contacts_fts", CONTACT_WEIGHTS, match, others, others_params, RANK_WINDOW if bounded else None
        )
    return paged_list(
        workspace,
        select=(
            "SELECT c.id, c.first_name, c.last_name, c.email, c.phone, c.title, o.name AS organization,"
            f" c.stakeholder_type, c.lifecycle_stage, c.owner, {LAST_TOUCHED} AS last_touched"
        ),
        table="contacts",
        alias="c",
        joins=" LEFT JOIN organizations o ON o.id = c.organization_id",
        where=where,
        params=params,
        order=_order(CONTACT_SORTS, sort, "last_name", descending),
        ranking=ranking,
        limit=limit,
        offset=offset,
    )


def count_contacts(workspace: Workspace, cap: int = COUNT_CAP, **filters: Any) -> int:
    """How many contacts match, counting at most ``cap + 1`` (a list shows "10,000+")."""
    where, params, _ = contact_filters(**filters)
    return workspace.store.scalar(f"SELECT count(*) FROM (SELECT 1 FROM contacts c{where} LIMIT {cap + 1})", params)


def org_filters(*, search: str = "", owner: str | None = None, industry: str | None = None, country=None):
    where, params = [], []
    match = fts_query(search) if search else ""
    if match:
        where.append("o.id IN (SELECT rowid FROM organizations_fts WHERE organizations_fts MATCH ?)")
        params.append(match)
    elif search and search.strip():
        where.append("0")
    for column, value in (("owner", owner), ("industry", industry), ("country", country)):
        if value not in (None, "", "(any)"):
            where.append(f"o.{column} = ?")
            params.append(value)
    return (" WHERE " + " AND ".join(where)) if where else "", params, match


def list_organizations(
    workspace: Workspace,
    *,
    sort: str | None = None,
    descending: bool = False,
    limit: int | None = PAGE_SIZE,
    offset: int = 0,
    **filters: Any,
) -> list[dict]:
    """One page of the organization list; sorted by relevance when searching without an explicit sort."""
    where, params, match = org_filters(**filters)
    return paged_list(
        workspace,
        select=(
            "SELECT o.id, o.name, o.domain, o.industry, o.city, o.country, o.owner,"
            " (SELECT count(*) FROM contacts k WHERE k.organization_id = o.id) AS contacts"
        ),
        table="organizations",
        alias="o",
        where=where,
        params=params,
        order=_order(ORG_SORTS, sort, "name", descending),
        ranking=Ranking("organizations_fts", ORG_WEIGHTS, match, where, params) if match and not sort else None,
        limit=limit,
        offset=offset,
    )


def count_organizations(workspace: Workspace, cap: int = COUNT_CAP, **filters: Any) -> int:
    where, params, _ = org_filters(**filters)
    return workspace.store.scalar(
        f"SELECT count(*) FROM (SELECT 1 FROM organizations o{where} LIMIT {cap + 1})", params
    )


# ----------------------------------------------------------- filter choices
def active_users(workspace: Workspace) -> list[str]:
    """Usernames a record can be owned by (the owner pickers' choices)."""
    rows = workspace.store.query("SELECT username FROM users WHERE active = 1 ORDER BY username")
    return [r["username"] for r in rows]


def all_tags(workspace: Workspace) -> list[str]:
    return [r["tag"] for r in workspace.store.query("SELECT DISTINCT tag FROM contact_tags ORDER BY tag LIMIT 500")]


def industries(workspace: Workspace) -> list[str]:
    rows = workspace.store.query(
        "SELECT DISTINCT industry FROM organizations WHERE industry IS NOT NULL ORDER BY 1 LIMIT 200"
    )
    return [r["industry"] for r in rows]


def organization_name(workspace: Workspace, organization_id: int) -> str | None:
    return workspace.store.scalar("SELECT name FROM organizations WHERE id = ?", [organization_id])
