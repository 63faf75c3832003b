"""The API plugin's table: ``api_tokens``, written by admins only, its hashes hidden from every read.

A token is shown once, when it is made: ``crm_<id>_<secret>``. The table keeps the
SHA-256 of the secret, never the secret. SHA-256 and not argon2 (as for passwords)
because the secret is 256 random bits, not something a person chose: nobody can
guess it, so a slow hash buys nothing, and a fast one is checked on every request
in microseconds instead of the ~50 ms argon2 spends by design.
"""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.db import Database

from crm_workspace.data.schema import admin_table, ensure_table, hide_column, unique_message

migrations = sqlite_utils.Migrations("crm_workspace.api")

TABLE = "api_tokens"
admin_table(TABLE)
hide_column(TABLE, "token_hash")
unique_message("api_tokens.name", "a live token already has this name (revoke it first, or pick another)")


@migrations()
def m001_tokens(db: Database) -> None:
    """Personal API tokens: name, the user they act as, their role cap, expiry, revocation, last use."""
    ensure_table(
        db,
        TABLE,
        {
            "id": int,
            "name": str,
            "token_hash": str,
            "user": str,
            "role": str,
            "expires_at": str,
            "revoked_at": str,
            "last_used_at": str,
            "created_by": str,
            "created_at": str,
            "updated_at": str,
            "updated_by": str,
            "version": int,
        },
        ("CREATE UNIQUE INDEX idx_api_tokens_name ON api_tokens(name) WHERE revoked_at IS NULL",),
        pk="id",
        not_null={"name", "token_hash", "user", "role"},
        defaults={"version": 1},
    )
