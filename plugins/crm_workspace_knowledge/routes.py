"""The public, read-only knowledge base at ``/kb`` (no login): index, articles, search, votes.

Only published articles exist here (a draft's address is a 404). Pages are plain
``write_page`` HTML (every value escaped, the article body sanitised by ``markdown.render``),
with the core's CSP: no script, nothing from other hosts. A view is counted once per
visitor, article and day and a "was this helpful?" vote once per visitor, article and day
(``model.visitor_key``: a salted daily hash, nothing personal kept). Votes are POSTs
rate-limited per client address. The admin setting ``kb_public`` (default on) turns it all off.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

from crm_workspace.errors import NotFound
from crm_workspace.services.http import RateLimiter, RouteHandler, escape

from . import model
from .markdown import render

#: Votes and searches a client may make per minute.
VOTES = RateLimiter(per_minute=10)
SEARCHES = RateLimiter(per_minute=60)


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


class KbHandler(RouteHandler):
    """The common part: the ``kb_public`` switch, the search box, the visitor's key."""

    def prepare(self) -> None:
        super().prepare()
        if self.answered:
            return
        if not self.workspace.setting("kb_public", True):
            raise NotFound("This knowledge base is not public.")

    def visitor(self) -> str:
        return model.visitor_key(self.workspace, self.client_ip, self.request.headers.get("User-Agent", ""), _today())

    def page(self, title: str, body: str, status: int = 200, query: str = "") -> None:
        search = (
            '<form method="get" action="/kb/search"><label for="q">Search the help centre</label>'
            f'<input id="q" name="q" type="search" value="{escape(query)}"><button type="submit">Search</button></form>'
        )
        home = "" if title == "Help centre" else '<p><a href="/kb">← Help centre</a></p>'  # no link to itself
        self.write_page(title, f"{home}{search}{body}", status)


def _article_list(rows: list[dict]) -> str:
    if not rows:
        return "<p class='muted'>No articles.</p>"
    items = "".join(
        f'<li><a href="/kb/{quote(r["slug"])}">{escape(r["title"])}</a>'
        + (f'<br><span class="muted">{escape(r["excerpt"])}</span>' if r.get("excerpt") else "")
        + "</li>"
        for r in rows
    )
    return f"<ul>{items}</ul>"


class IndexHandler(KbHandler):
    def get(self) -> None:
        ws = self.workspace
        parts = []
        for cat in model.categories(ws):
            rows = model.list_articles(ws, status="published", category_id=cat["id"], limit=None)
            if rows:
                rows.sort(key=lambda r: r["title"].lower())
                parts.append(f'<h2 id="{escape(cat["slug"])}">{escape(cat["name"])}</h2>{_article_list(rows)}')
        # a published article without a category is still part of the help centre
        loose = [r for r in model.list_articles(ws, status="published", limit=None) if not r.get("category")]
        if loose:
            loose.sort(key=lambda r: r["title"].lower())
            parts.append(f"<h2>{'More articles' if parts else 'Articles'}</h2>{_article_list(loose)}")
        self.page("Help centre", "".join(parts) or "<p class='muted'>No articles yet.</p>")


class SearchHandler(KbHandler):
    def get(self) -> None:
        if not self.check_rate(SEARCHES):
            return
        q = self.get_argument("q", "")[:200]
        rows = model.search(self.workspace, q) if q.strip() else []
        head = f"<h2>{len(rows)} result{'s' if len(rows) != 1 else ''} for “{escape(q)}”</h2>" if q.strip() else ""
        self.page("Search the help centre", head + (_article_list(rows) if q.strip() else ""), query=q)


class ArticleHandler(KbHandler):
    def get(self, slug: str) -> None:
        article = model.published_by_slug(self.workspace, slug)
        model.record_hit(self.workspace, article["id"], "view", self.visitor(), _today())
        self._show(article, self.get_argument("voted", ""))

    def _show(self, article: dict, voted: str = "", status: int = 200) -> None:
        if voted == "thanks":
            vote = "<p><strong>Thanks for your feedback!</strong></p>"
        elif voted == "again":
            vote = "<p class='muted'>You already voted on this article today.</p>"
        else:
            vote = (
                f'<form method="post" action="/kb/{quote(article["slug"])}/vote"><p>Was this article helpful?</p>'
                '<button type="submit" name="helpful" value="yes">Yes</button> '
                '<button type="submit" name="helpful" value="no">No</button></form>'
            )
        category = f'<p class="muted">{escape(article["category"])}</p>' if article.get("category") else ""
        self.page(
            article["title"],
            f"{category}<article>{render(article['body_md'])}</article><hr>{vote}"
            f'<p class="muted">{int(article["helpful_yes"] or 0)} of'
            f" {int((article['helpful_yes'] or 0) + (article['helpful_no'] or 0))} found this helpful.</p>",
            status,
        )


class VoteHandler(KbHandler):
    def post(self, slug: str) -> None:
        if not self.check_rate(VOTES):
            return
        article = model.published_by_slug(self.workspace, slug)
        helpful = self.get_body_argument("helpful", "")
        if helpful not in ("yes", "no"):
            self.page("Sorry", '<p class="error">Choose yes or no.</p>', 400)
            return
        counted = model.record_hit(self.workspace, article["id"], helpful, self.visitor(), _today())
        self.redirect(f"/kb/{quote(article['slug'])}?voted={'thanks' if counted else 'again'}", status=303)
