"""A stand-in for the service plugin's ``tickets`` table (branch svc20, docs/service.md) in tests.

Only the columns the knowledge base and the surveys read, with the service plugin's names and
types; when the real plugin is installed its table already exists and this adds nothing.
"""

from __future__ import annotations

import sqlite_utils

from crm_workspace import hookimpl
from crm_workspace.data.schema import ensure_table

migrations = sqlite_utils.Migrations("tests.service_stub")


@migrations()
def m001_tickets(db):
    ensure_table(
        db,
        "tickets",
        {
            "id": int,
            "subject": str,
            "description": str,
            "requester_id": int,
            "organization_id": int,
            "priority": str,
            "status": str,
            "assignee": str,
            "team": str,
            "channel": str,
            "solved_at": str,
            "created_at": str,
            "updated_at": str,
            "updated_by": str,
            "version": int,
        },
        pk="id",
        not_null={"subject", "status", "priority"},
        defaults={"status": "new", "priority": "normal", "channel": "web", "version": 1},
    )


class ServiceStub:
    @hookimpl
    def crm_migrations(self):
        return migrations
