"""Contacts & organizations: the central record of every person and company."""

from __future__ import annotations

import sqlite_utils

from crm_workspace import Metric, Page, hookimpl

migrations = sqlite_utils.Migrations("crm_workspace.contacts")


@migrations()
def m001_contact_tags(db):
    db["contact_tags"].create(
        {"contact_id": int, "tag": str}, pk=("contact_id", "tag"), foreign_keys=[("contact_id", "contacts", "id")]
    )


@hookimpl
def crm_migrations():
    return migrations


@hookimpl
def crm_dashboards(workspace):
    def view(ws):
        from .views import ContactList

        return ContactList(workspace=ws)

    return [Page("contacts", "Contacts", view, icon="👥", order=10, extensions=("tabulator",))]


@hookimpl
def crm_metrics(workspace):
    sql = "SELECT count(*) FROM contacts"
    return [Metric("contacts", "Contacts", workspace.store.scalar(sql), sql=sql, page="contacts")]
