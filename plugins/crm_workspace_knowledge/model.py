"""The knowledge base's queries and writes (no Panel): articles, categories, search, hits.

Every write goes through the Store. Search is FTS5 with bm25 weighting the title
over the tags over the body; user text is never FTS syntax (each token quoted).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from datetime import UTC, datetime
from typing import Any

from crm_workspace.errors import NotFound, ValidationError
from crm_workspace.services.signing import public_url

from .markdown import plain

#: bm25 weights of kb_fts's columns (title, tags, body).
WEIGHTS = "10.0, 4.0, 1.0"
ARTICLE_COLUMNS = (
    "id, title, slug, category_id, status, author, tags, views, helpful_yes, helpful_no,"
    " published_at, created_at, updated_at, version"
)


def slugify(text: str) -> str:
    """``"Reset your password!"`` → ``"reset-your-password"`` (ASCII, accents folded)."""
    folded = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode()
    return "-".join(re.findall(r"[a-z0-9]+", folded.lower()))[:80] or "article"


def fts_query(text: str | None, *, any_term: bool = False) -> str:
    """An FTS5 MATCH expression: each token quoted and prefix-matched; all required unless ``any_term``."""
    terms = []
    for token in re.findall(r"\w+", text or ""):
        terms.append('"' + token.replace('"', '""') + '"*')
    return (" OR " if any_term else " ").join(terms)


def article_url(ws: Any, slug: str) -> str:
    """The public address of an article (``/kb/<slug>``)."""
    return public_url(ws, f"/kb/{slug}")


# ------------------------------------------------------------------------ reads
def categories(ws: Any) -> list[dict]:
    return ws.query(
        "SELECT c.id, c.name, c.slug, c.description, c.position, c.version,"
        " (SELECT count(*) FROM kb_articles a WHERE a.category_id = c.id AND a.status = 'published') AS published"
        " FROM kb_categories c ORDER BY c.position, c.name"
    )


def list_articles(
    ws: Any, *, status: str | None = None, category_id: int | None = None, text: str = "", limit: int | None = 200
) -> list[dict]:
    """Articles (without their bodies), newest first, or best first when ``text`` is searched."""
    where, params = [], []
    if status:
        where.append("a.status = ?")
        params.append(status)
    if category_id:
        where.append("a.category_id = ?")
        params.append(int(category_id))
    match = fts_query(text)
    if text and not match:
        return []
    cols = ", ".join(f"a.{c.strip()}" for c in ARTICLE_COLUMNS.split(","))
    sql = f"SELECT {cols}, c.name AS category"
    if match:
        sql += f", bm25(kb_fts, {WEIGHTS}) AS rank FROM kb_fts JOIN kb_articles a ON a.id = kb_fts.rowid"
        where.insert(0, "kb_fts MATCH ?")
        params.insert(0, match)
        order = "rank, a.id"
    else:
        sql += " FROM kb_articles a"
        order = "a.updated_at DESC, a.id DESC"
    sql += " LEFT JOIN kb_categories c ON c.id = a.category_id"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY {order}"
    if limit:
        sql += f" LIMIT {int(limit)}"
    return ws.query(sql, params)


def search(ws: Any, text: str, *, published_only: bool = True, limit: int = 20) -> list[dict]:
    """Articles matching every word of ``text`` (prefixes, accents folded), best first, with an excerpt."""
    rows = list_articles(ws, status="published" if published_only else None, text=text, limit=limit)
    bodies = _bodies(ws, [r["id"] for r in rows])
    for row in rows:
        row["excerpt"] = plain(bodies.get(row["id"]), 180)
    return rows


def suggest(ws: Any, subject: str = "", body: str = "", limit: int = 5) -> list[dict]:
    """Published articles for a ticket: any word of its subject and body, ranked by bm25 (title first)."""
    words = [w for w in re.findall(r"\w+", f"{subject or ''} {(body or '')[:2000]}") if len(w) > 2]
    words = [w for w in dict.fromkeys(w.lower() for w in words) if w not in STOPWORDS][:40]
    match = fts_query(" ".join(words), any_term=True)
    if not match:
        return []
    rows = ws.query(
        f"SELECT a.id, a.title, a.slug, bm25(kb_fts, {WEIGHTS}) AS rank FROM kb_fts"
        " JOIN kb_articles a ON a.id = kb_fts.rowid WHERE kb_fts MATCH ? AND a.status = 'published'"
        " ORDER BY rank, a.id LIMIT ?",
        [match, int(limit)],
    )
    for row in rows:
        row["url"] = article_url(ws, row["slug"])
    return rows


def _bodies(ws: Any, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    return {r["id"]: r["body_md"] for r in ws.query(f"SELECT id, body_md FROM kb_articles WHERE id IN ({marks})", ids)}


def get_article(ws: Any, article_id: int) -> dict:
    return ws.store.get("kb_articles", int(article_id))


def published_by_slug(ws: Any, slug: str) -> dict:
    """A published article by its address, or ``NotFound`` (drafts are not found)."""
    rows = ws.query(
        "SELECT a.*, c.name AS category, c.slug AS category_slug FROM kb_articles a"
        " LEFT JOIN kb_categories c ON c.id = a.category_id WHERE a.slug = ? AND a.status = 'published'",
        [slug],
    )
    if not rows:
        raise NotFound("No such article.")
    return rows[0]


# ----------------------------------------------------------------------- writes
def save_category(ws: Any, name: str, *, description: str = "", category_id: int | None = None) -> dict:
    record = {"name": (name or "").strip(), "description": description}
    if category_id:
        return ws.store.update("kb_categories", int(category_id), record)
    record["slug"] = slugify(name)
    record["position"] = (ws.store.scalar("SELECT max(position) FROM kb_categories") or 0) + 1
    return ws.store.insert("kb_categories", record)


def save_article(ws: Any, record: dict, *, article_id: int | None = None, version: int | None = None) -> dict:
    """Create (``article_id`` None) or update an article against the ``version`` the editor saw."""
    record = {k: v for k, v in record.items() if k in EDITABLE}
    if article_id:
        return ws.store.update("kb_articles", int(article_id), record, version=version)
    record.setdefault("author", ws.user)
    if not record.get("slug"):
        record["slug"] = unique_slug(ws, record.get("title", ""))
    return ws.store.insert("kb_articles", record)


def set_status(ws: Any, article_id: int, status: str, *, version: int | None = None) -> dict:
    """Publish or unpublish (back to draft) an article."""
    return ws.store.update("kb_articles", int(article_id), {"status": status}, version=version)


def unique_slug(ws: Any, title: str) -> str:
    base = slugify(title)
    slug, n = base, 1
    while ws.store.scalar("SELECT 1 FROM kb_articles WHERE slug = ?", [slug]):
        n += 1
        slug = f"{base}-{n}"
    return slug


EDITABLE = ("title", "slug", "body_md", "category_id", "status", "tags", "author")


def validate(ws: Any, table: str, record: dict, before: dict | None) -> dict[str, str]:
    """The rules of kb_articles and kb_categories (called by ``crm_validate_record``)."""
    from crm_workspace.data import checks

    from .schema import HIT_KINDS, STATUSES

    errors: dict[str, str] = {}
    checks.strip_text(record)
    if table == "kb_hits":
        checks.choice(record, "kind", HIT_KINDS, errors)
        return errors
    checks.required(record, before, "name" if table == "kb_categories" else "title", errors)
    if "slug" in record and not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", str(record["slug"] or "")):
        errors["slug"] = "use lower-case letters, digits and dashes (e.g. reset-your-password)"
    if table == "kb_articles":
        checks.choice(record, "status", STATUSES, errors)
        if record.get("status") == "published" and (before or {}).get("status") != "published":
            record["published_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        category = record.get("category_id")
        if category not in (None, "") and not ws.store.scalar("SELECT 1 FROM kb_categories WHERE id = ?", [category]):
            errors["category_id"] = "no such category"
    return errors


# ------------------------------------------------------------------------- hits
def visitor_key(ws: Any, ip: str, user_agent: str, day: str) -> str:
    """A hash of the client under the day's random salt: counts a visitor once a day, stores nothing personal.

    The salt (``kb_salts``) is random per day and deleted once the day is over, so a stored key
    cannot be traced back to an address by trying them all.
    """
    return hashlib.sha256(f"{_salt(ws, day)}|{ip}|{user_agent}".encode()).hexdigest()[:32]


def _salt(ws: Any, day: str) -> str:
    salt = ws.store.scalar("SELECT salt FROM kb_salts WHERE day = ?", [day])
    if salt:
        return salt
    with ws.store.transaction() as db:
        db.execute("DELETE FROM kb_salts WHERE day < ?", [day])
        db.execute("INSERT OR IGNORE INTO kb_salts (day, salt) VALUES (?, ?)", [day, secrets.token_hex(16)])
    return ws.store.scalar("SELECT salt FROM kb_salts WHERE day = ?", [day])


def record_hit(ws: Any, article_id: int, kind: str, visitor: str, day: str) -> bool:
    """Count a view or a vote once per visitor, article and day; False when already counted."""
    kinds = ("view",) if kind == "view" else ("yes", "no")  # one vote a day, whichever way
    marks = ",".join("?" * len(kinds))
    if ws.store.scalar(
        f"SELECT 1 FROM kb_hits WHERE article_id = ? AND kind IN ({marks}) AND visitor = ? AND day = ?",
        [int(article_id), *kinds, visitor, day],
    ):
        return False
    try:
        # a counter, not a person's act: no audit row or change event per page view
        ws.store.insert_many(
            "kb_hits",
            [{"article_id": int(article_id), "kind": kind, "visitor": visitor, "day": day}],
            audit=False,
            events=False,
        )
    except ValidationError:
        return False
    return True


STOPWORDS = frozenset(
    [
        "the",
        "and",
        "for",
        "with",
        "this",
        "that",
        "from",
        "have",
        "has",
        "not",
        "are",
        "was",
        "were",
        "you",
        "your",
        "our",
        "can",
        "how",
        "what",
        "when",
        "why",
        "who",
        "will",
        "would",
        "could",
        "should",
        "there",
        "their",
        "about",
        "into",
        "please",
        "thanks",
        "thank",
        "hello",
        "dear",
        "regards",
    ]
)
