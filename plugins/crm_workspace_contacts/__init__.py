"""Contacts & organizations: the central record of every person and company."""

from __future__ import annotations

import random

from crm_workspace import Metric, Page, PersonalData, hookimpl

from . import validation as _validation  # called once per record of a bulk write: imported once, not per call
from .db import migrations

TAGS = ("vip", "newsletter", "event-2026", "partner-program", "at-risk", "beta")


@hookimpl
def crm_migrations():
    return migrations


@hookimpl
def crm_dashboards(workspace):
    def contacts(ws):
        from .views import ContactsPage

        return ContactsPage(workspace=ws)

    def organizations(ws):
        from .views import OrganizationsPage

        return OrganizationsPage(workspace=ws)

    def tasks(ws):
        from .views import MyTasks

        return MyTasks(workspace=ws)

    def duplicates(ws):
        from .views import DuplicatesPage

        return DuplicatesPage(workspace=ws)

    return [
        Page("contacts", "Contacts", contacts, icon="users", order=10),
        Page("organizations", "Organizations", organizations, icon="building", order=11),
        Page("tasks", "My tasks", tasks, icon="list-check", order=12),
        Page("duplicates", "Duplicates", duplicates, icon="git-merge", order=13),
    ]


@hookimpl
def crm_register_commands(cli):
    from .commands import register

    register(cli)


@hookimpl
def crm_validate_record(workspace, table, record, before):
    return _validation.validate(workspace, table, record, before)


crm_validate_record.tables = ("contacts", "organizations")  # the Store skips it for other tables


@hookimpl
def crm_search(workspace, query, limit):
    from .search import search_frame

    return search_frame(workspace, query, limit)


@hookimpl
def crm_data_views(workspace):
    import pandas as pd

    from . import merge, model

    def contacts_list(**filters):
        """Contacts with their organization: the Contacts page's filters, sort, descending, limit, offset."""
        filters.setdefault("limit", None)
        return pd.DataFrame(model.list_contacts(workspace, **filters), columns=model.CONTACT_COLUMNS)

    def organizations_list(**filters):
        """Organizations: the Organizations page's filters, sort, descending, limit, offset."""
        filters.setdefault("limit", None)
        return pd.DataFrame(model.list_organizations(workspace, **filters))

    def timeline(id, table="contacts", limit=100):
        """Every touchpoint of the contact (or ``table`` row) with ``id``, newest first."""
        return pd.DataFrame(model.timeline(workspace, table, int(id), limit))

    def tasks(user=None, days_ahead=7):
        """Open tasks of ``user`` due within ``days_ahead`` days, overdue ones included, soonest first."""
        return pd.DataFrame(model.my_tasks(workspace, user, days_ahead))

    def duplicates(limit=200):
        """Pairs of contacts that may be the same person: a, b, reason, score (0-100), best first."""
        return pd.DataFrame(merge.find_duplicates(workspace, limit))

    return {
        "contacts.list": contacts_list,
        "contacts.organizations": organizations_list,
        "contacts.timeline": timeline,
        "contacts.tasks": tasks,
        "contacts.duplicates": duplicates,
    }


@hookimpl
def crm_demo_data(workspace, seed, scale):
    """Tags on about a quarter of the contacts; at demo size, a few planted duplicates."""
    rng = random.Random(seed + 4)
    store = workspace.store
    total = store.scalar("SELECT max(id) FROM contacts") or 0
    small = scale <= 2
    tags = []
    for contact_id in range(1, total + 1):
        if rng.random() < 0.25:
            for tag in rng.sample(TAGS, rng.choice((1, 1, 2))):
                tags.append({"contact_id": contact_id, "tag": tag})
    store.insert_many("contact_tags", tags, audit=False, events=False, validate=small)
    if not small or total < 60:
        return
    # Turn the last three contacts into near-copies of three others (the contact count stays
    # what was asked for): same phone; a name one letter short at the same organization.
    for offset, (source_id, how) in enumerate(((5, "phone"), (17, "name"), (42, "name"))):
        row = store.get("contacts", source_id)
        target = total - offset
        name = row["first_name"] or "Alex"
        first = name if how == "phone" else (name[:-1] if len(name) > 3 else name + "a")
        phone = row["phone"] or f"+491510000{source_id:04d}"
        if how == "phone" and not row["phone"]:
            store.conn.execute("UPDATE contacts SET phone = ? WHERE id = ?", [phone, source_id])
        store.conn.execute(
            "UPDATE contacts SET first_name = ?, last_name = ?, organization_id = ?, phone = ?, notes = ? WHERE id = ?",
            [
                first,
                row["last_name"],
                row["organization_id"],
                phone if how == "phone" else None,
                "Possible duplicate (demo)",
                target,
            ],
        )


@hookimpl
def crm_metrics(workspace):
    sql = "SELECT count(*) FROM contacts"
    return [Metric("contacts", "Contacts", workspace.store.scalar(sql), sql=sql, page="contacts")]


@hookimpl
def crm_personal_data(workspace):
    """A contact's tags (removed on erasure), and the merge log's copy of a contact merged into or out of another."""
    merged = "table_name = 'contacts'"
    return [
        PersonalData("contact_tags", "contact_id", ("tag",), remove=True),
        PersonalData("merge_log", "winner_id", ("details",), where=merged),
        PersonalData("merge_log", "loser_id", ("details",), where=merged),
    ]
