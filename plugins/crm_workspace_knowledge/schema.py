"""The knowledge base's tables: ``kb_categories``, ``kb_articles``, ``kb_hits`` and the FTS index.

``kb_fts`` is an FTS5 index over ``kb_articles`` (title, tags, body) kept in step by
triggers, so every write path (the Store, a privacy erasure, raw SQL) updates it;
the tokenizer folds case and accents (``remove_diacritics 2``: "resume" finds "résumé").

``kb_hits`` keeps one row per visitor, article, day and kind (``view``, ``yes``, ``no``):
the visitor is a SHA-256 of the day, the client address and the User-Agent with a
per-workspace salt, so nothing personal is stored and the key changes every day.
A trigger adds each new hit to the article's ``views``/``helpful_yes``/``helpful_no``
counters without bumping its ``version`` (an editor's optimistic lock is not disturbed
by readers).
"""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.db import Database

from crm_workspace.data.schema import ensure_table, unique_message

STATUSES = ("draft", "published")
HIT_KINDS = ("view", "yes", "no")
TOKENIZE = "unicode61 remove_diacritics 2"

migrations = sqlite_utils.Migrations("crm_workspace.knowledge")
unique_message("kb_articles.slug", "another article already has this address (slug)")
unique_message("kb_categories.slug", "another category already has this address (slug)")


@migrations()
def m001_tables(db: Database) -> None:
    """Categories, articles, hits; the FTS index and its triggers; the counters' trigger."""
    ensure_table(
        db,
        "kb_categories",
        {
            "id": int,
            "name": str,
            "slug": str,
            "description": str,
            "position": int,
            "created_at": str,
            "updated_at": str,
            "updated_by": str,
            "version": int,
        },
        ("CREATE UNIQUE INDEX idx_kb_categories_slug ON kb_categories(slug)",),
        pk="id",
        not_null={"name", "slug"},
        defaults={"position": 0, "version": 1},
    )
    ensure_table(
        db,
        "kb_articles",
        {
            "id": int,
            "title": str,
            "slug": str,
            "body_md": str,
            "category_id": int,
            "status": str,
            "author": str,
            "tags": str,
            "views": int,
            "helpful_yes": int,
            "helpful_no": int,
            "published_at": str,
            "created_at": str,
            "updated_at": str,
            "updated_by": str,
            "version": int,
        },
        (
            "CREATE UNIQUE INDEX idx_kb_articles_slug ON kb_articles(slug)",
            "CREATE INDEX idx_kb_articles_category ON kb_articles(status, category_id, title)",
        ),
        pk="id",
        not_null={"title", "slug", "status"},
        defaults={"status": "draft", "views": 0, "helpful_yes": 0, "helpful_no": 0, "body_md": "", "version": 1},
        foreign_keys=[("category_id", "kb_categories", "id")],
    )
    ensure_table(
        db,
        "kb_hits",
        {"id": int, "article_id": int, "kind": str, "visitor": str, "day": str},
        ("CREATE UNIQUE INDEX idx_kb_hits_once ON kb_hits(article_id, kind, visitor, day)",),
        pk="id",
        not_null={"article_id", "kind", "visitor", "day"},
        foreign_keys=[("article_id", "kb_articles", "id")],
    )
    db.execute("CREATE TABLE kb_salts (day TEXT PRIMARY KEY, salt TEXT NOT NULL)")
    db.execute(
        "CREATE VIRTUAL TABLE kb_fts USING fts5(title, tags, body_md, content='kb_articles',"
        f" content_rowid='id', tokenize=\"{TOKENIZE}\", prefix='2 3')"
    )
    cols = "title, tags, body_md"
    new = "new.title, new.tags, new.body_md"
    old = "old.title, old.tags, old.body_md"
    insert = f"INSERT INTO kb_fts(rowid, {cols}) VALUES (new.id, {new});"
    delete = f"INSERT INTO kb_fts(kb_fts, rowid, {cols}) VALUES ('delete', old.id, {old});"
    db.executescript(
        f"""
        CREATE TRIGGER kb_fts_ai AFTER INSERT ON kb_articles BEGIN {insert} END;
        CREATE TRIGGER kb_fts_ad AFTER DELETE ON kb_articles BEGIN {delete} END;
        CREATE TRIGGER kb_fts_au AFTER UPDATE OF {cols} ON kb_articles BEGIN {delete} {insert} END;
        CREATE TRIGGER kb_hits_count AFTER INSERT ON kb_hits BEGIN
          UPDATE kb_articles SET
            views = views + (NEW.kind = 'view'),
            helpful_yes = helpful_yes + (NEW.kind = 'yes'),
            helpful_no = helpful_no + (NEW.kind = 'no')
          WHERE id = NEW.article_id;
        END;
        """
    )
