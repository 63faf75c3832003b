"""SQLite errors in words a person can act on: what the Store raises instead of ``sqlite3.Error``."""

from __future__ import annotations

import re
import sqlite3

from crm_workspace.data import schema
from crm_workspace.data.pool import BUSY_TIMEOUT_S
from crm_workspace.errors import CrmError, DatabaseLocked, ValidationError

_UNIQUE = re.compile(r"UNIQUE constraint failed: (?:index '(?P<index>[^']+)'|(?P<cols>.+))")


def translate(error: sqlite3.Error, table: str = "") -> CrmError:
    """Turn an SQLite error into one a person can read."""
    message = str(error)
    if "database is locked" in message or "database is busy" in message:
        return DatabaseLocked(
            f"the workspace database is busy (locked by another writer for more than {BUSY_TIMEOUT_S:.0f} s); try again"
        )
    match = _UNIQUE.search(message)
    if match:
        # SQLite names the columns ("contacts.email"), or the index when it is on an expression
        constraint = match.group("cols") or f"index '{match.group('index')}'"
        columns = (match.group("cols") or match.group("index") or "").split(", ")
        owner = columns[0].split(".")[0] if match.group("cols") else table
        fields = [c.split(".")[-1] for c in columns]
        declared = schema.UNIQUE_MESSAGES.get(constraint)
        if declared:
            return ValidationError(owner or "record", {fields[0]: declared})
        return ValidationError(table or "record", {f: "must be unique; this value is already used" for f in fields})
    if "FOREIGN KEY constraint failed" in message:
        return ValidationError(table or "record", {"reference": "points to a record that does not exist"})
    if "NOT NULL constraint failed" in message:
        field = message.rsplit(".", 1)[-1]
        return ValidationError(table or "record", {field: "is required"})
    if "append-only" in message or message == schema.TOMBSTONE:  # the core's triggers say why themselves
        return CrmError(message)
    if "no such table" in message or "no such column" in message or "syntax error" in message:
        return CrmError(f"query failed: {message}")
    if "file is not a database" in message or "malformed" in message:
        return CrmError(f"not a crm-workspace database: {message}")
    return CrmError(f"database error: {message}")
