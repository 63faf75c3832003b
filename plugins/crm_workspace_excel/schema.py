"""The import log: ``import_batches``, one row per import, so a whole batch can be undone.

The table keeps the name and columns it had when the core created it; its
migration joins the plugin's set (``recipes.migrations``), creating the table in
new workspaces and accepting the one an older core made.
"""

from __future__ import annotations

from sqlite_utils.db import Database

from crm_workspace.data.schema import ensure_table

from .recipes import migrations

__all__ = ["migrations"]


@migrations()
def m003_import_batches_table(db: Database) -> None:
    """Who imported which file (by hash) into which table, with its counts and status."""
    ensure_table(
        db,
        "import_batches",
        {
            "id": str,
            "at": str,
            "user": str,
            "file_name": str,
            "sha256": str,
            "entity": str,
            "created": int,
            "updated": int,
            "skipped": int,
            "rejected": int,
            "status": str,
        },
        pk="id",
    )
