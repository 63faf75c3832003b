"""The contacts module's schema: tags, the full-text index and the merge log.

Migration set ``crm_workspace.contacts``. The search index is an FTS5 table with
external content (a view joining each contact to its organization's name), kept
in sync by triggers on ``contacts`` and ``organizations`` — so every write, from
the Store, the importer or raw SQL, is searchable at once.
"""

from __future__ import annotations

import sqlite_utils

migrations = sqlite_utils.Migrations("crm_workspace.contacts")

#: The FTS tokenizer: case- and diacritics-insensitive ("jose" finds "José").
TOKENIZE = "unicode61 remove_diacritics 2"
CONTACT_FTS_COLUMNS = ("first_name", "last_name", "email", "phone", "organization", "title", "notes")
ORG_FTS_COLUMNS = ("name", "domain", "industry", "city", "country")


@migrations()
def m001_contact_tags(db):
    db["contact_tags"].create(
        {"contact_id": int, "tag": str}, pk=("contact_id", "tag"), foreign_keys=[("contact_id", "contacts", "id")]
    )


@migrations()
def m002_contact_tags_with_id(db):
    """Give tags a single-column primary key so the Store can update and delete them."""
    rows = list(db.query("SELECT contact_id, tag FROM contact_tags"))
    db["contact_tags"].drop()
    db["contact_tags"].create(
        {"id": int, "contact_id": int, "tag": str},
        pk="id",
        foreign_keys=[("contact_id", "contacts", "id")],
        not_null={"contact_id", "tag"},
    )
    db.execute("CREATE UNIQUE INDEX idx_contact_tags_unique ON contact_tags(contact_id, tag)")
    db.execute("CREATE INDEX idx_contact_tags_tag ON contact_tags(tag, contact_id)")
    if rows:
        db["contact_tags"].insert_all(rows)


_CONTACT_VALUES = (
    "{p}.first_name, {p}.last_name, {p}.email, {p}.phone,"
    " (SELECT name FROM organizations WHERE id = {p}.organization_id), {p}.title, {p}.notes"
)


@migrations()
def m003_search_index(db):
    """FTS5 indexes over contacts (with their organization's name) and organizations."""
    cols = ", ".join(CONTACT_FTS_COLUMNS)
    db.execute(
        "CREATE VIEW contacts_search_source AS SELECT c.id, c.first_name, c.last_name, c.email, c.phone,"
        " o.name AS organization, c.title, c.notes FROM contacts c LEFT JOIN organizations o ON o.id = c.organization_id"
    )
    db.execute(
        f"CREATE VIRTUAL TABLE contacts_fts USING fts5({cols}, content='contacts_search_source',"
        f" content_rowid='id', tokenize=\"{TOKENIZE}\", prefix='2 3')"
    )
    new, old = _CONTACT_VALUES.format(p="new"), _CONTACT_VALUES.format(p="old")
    insert = f"INSERT INTO contacts_fts(rowid, {cols}) VALUES (new.id, {new});"
    delete = f"INSERT INTO contacts_fts(contacts_fts, rowid, {cols}) VALUES ('delete', old.id, {old});"
    watched = "first_name, last_name, email, phone, organization_id, title, notes"
    db.executescript(
        f"""
        CREATE TRIGGER contacts_fts_ai AFTER INSERT ON contacts BEGIN {insert} END;
        CREATE TRIGGER contacts_fts_ad AFTER DELETE ON contacts BEGIN {delete} END;
        CREATE TRIGGER contacts_fts_au AFTER UPDATE OF {watched} ON contacts BEGIN {delete} {insert} END;
        CREATE TRIGGER contacts_fts_org_au AFTER UPDATE OF name ON organizations BEGIN
          INSERT INTO contacts_fts(contacts_fts, rowid, {cols})
            SELECT 'delete', c.id, c.first_name, c.last_name, c.email, c.phone, old.name, c.title, c.notes
            FROM contacts c WHERE c.organization_id = old.id;
          INSERT INTO contacts_fts(rowid, {cols})
            SELECT c.id, c.first_name, c.last_name, c.email, c.phone, new.name, c.title, c.notes
            FROM contacts c WHERE c.organization_id = new.id;
        END;
        """
    )
    ocols = ", ".join(ORG_FTS_COLUMNS)
    onew = ", ".join(f"new.{c}" for c in ORG_FTS_COLUMNS)
    oold = ", ".join(f"old.{c}" for c in ORG_FTS_COLUMNS)
    db.execute(
        f"CREATE VIRTUAL TABLE organizations_fts USING fts5({ocols}, content='organizations',"
        f" content_rowid='id', tokenize=\"{TOKENIZE}\", prefix='2 3')"
    )
    db.executescript(
        f"""
        CREATE TRIGGER organizations_fts_ai AFTER INSERT ON organizations BEGIN
          INSERT INTO organizations_fts(rowid, {ocols}) VALUES (new.id, {onew});
        END;
        CREATE TRIGGER organizations_fts_ad AFTER DELETE ON organizations BEGIN
          INSERT INTO organizations_fts(organizations_fts, rowid, {ocols}) VALUES ('delete', old.id, {oold});
        END;
        CREATE TRIGGER organizations_fts_au AFTER UPDATE OF {ocols} ON organizations BEGIN
          INSERT INTO organizations_fts(organizations_fts, rowid, {ocols}) VALUES ('delete', old.id, {oold});
          INSERT INTO organizations_fts(rowid, {ocols}) VALUES (new.id, {onew});
        END;
        """
    )
    # Index what is already there in one pass each (fast on a million rows).
    db.execute("INSERT INTO contacts_fts(contacts_fts) VALUES ('rebuild')")
    db.execute("INSERT INTO organizations_fts(organizations_fts) VALUES ('rebuild')")


@migrations()
def m004_merge_log(db):
    """One row per merge of two records: enough to undo it."""
    db["merge_log"].create(
        {
            "id": int,
            "at": str,
            "user": str,
            "table_name": str,
            "winner_id": int,
            "loser_id": int,
            "status": str,  # merged | undone
            "details": str,  # JSON: the loser as it was, the winner's replaced fields, what moved
            "undone_at": str,
            "undone_by": str,
        },
        pk="id",
    )
    db.execute("CREATE INDEX idx_merge_log_winner ON merge_log(table_name, winner_id)")


@migrations()
def m005_search_index_recognised(db):
    """Let sqlite-utils' and Datasette's ``detect_fts`` find ``contacts_fts`` for ``contacts``.

    Both look for an FTS table declared with ``content="contacts"``, or for an object
    of table ``contacts`` whose SQL declares an FTS virtual table. Ours indexes a view
    (each contact with its organization's name, so "jose zurich" finds José at Zürich AG),
    so the first test cannot hold; this trigger, named after the index and never firing,
    answers the second. ``db["contacts"].search(...)`` and ``datasette crm.db`` then search
    contacts through the same index the app uses: nothing is indexed twice.
    """
    db.execute(
        """CREATE TRIGGER IF NOT EXISTS contacts_fts AFTER DELETE ON contacts WHEN 0 BEGIN
  /* contacts_fts: CREATE VIRTUAL TABLE contacts_fts USING FTS5 over contacts_search_source, rowid = contacts.id */
  SELECT 1;
END"""
    )
