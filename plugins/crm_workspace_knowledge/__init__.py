"""Knowledge base: articles in Markdown, search, suggestions on tickets, a public help centre at ``/kb``."""

from __future__ import annotations

from crm_workspace import ApiResource, Page, RecordSection, Route, Setting, hookimpl

from .schema import migrations


def _flag(value):
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, not {value!r}")
    return value


@hookimpl
def crm_settings():
    """Whether the help centre at /kb is served to anyone without a login (admins decide)."""
    return [Setting("kb_public", _flag, True, doc="Serve the published articles at /kb without a login.")]


@hookimpl
def crm_migrations():
    return migrations


@hookimpl
def crm_validate_record(workspace, table, record, before):
    if table not in ("kb_articles", "kb_categories", "kb_hits"):
        return None
    from .model import validate

    return validate(workspace, table, record, before) or None


crm_validate_record.tables = ("kb_articles", "kb_categories", "kb_hits")  # the Store skips it for other tables


@hookimpl
def crm_routes(workspace):
    from . import routes

    return [
        Route("/kb", routes.IndexHandler),
        Route("/kb/search", routes.SearchHandler),
        Route("/kb/([a-z0-9-]+)/vote", routes.VoteHandler),
        Route("/kb/([a-z0-9-]+)", routes.ArticleHandler),
    ]


@hookimpl
def crm_dashboards(workspace):
    def view(ws):
        from .views import KnowledgePage

        return KnowledgePage(workspace=ws)

    return [Page("knowledge", "Knowledge base", view, icon="book", order=75)]


@hookimpl
def crm_data_views(workspace):
    import pandas as pd

    from . import model

    def articles(status=None, category_id=None, text=""):
        """Knowledge base articles (no bodies): status, category, views and votes; ``text`` searches."""
        return pd.DataFrame(
            model.list_articles(workspace, status=status, category_id=category_id, text=text, limit=None)
        )

    def suggest(subject="", body="", limit=5):
        """Published articles for a ticket's ``subject`` and ``body``, best first (bm25, title weighted)."""
        return pd.DataFrame(
            model.suggest(workspace, subject, body, int(limit)), columns=["id", "title", "slug", "rank", "url"]
        )

    return {"knowledge.articles": articles, "knowledge.suggest": suggest}


@hookimpl
def crm_search(workspace, query, limit):
    import pandas as pd

    from .model import search

    rows = [
        {"type": "kb_articles", "id": r["id"], "title": r["title"], "subtitle": f"{r['status']} · {r['category'] or ''}",
         "rank": r["rank"]}
        for r in search(workspace, query, published_only=False, limit=limit)
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=["type", "id", "title", "subtitle", "rank"])


@hookimpl
def crm_record_sections(workspace, table, record_id):
    """On a ticket's page: the published articles matching its subject and description."""
    if table != "tickets":
        return None

    def view():
        from .section import SuggestionsSection

        return SuggestionsSection(workspace=workspace, ticket_id=int(record_id))

    return [RecordSection("Suggested articles", view, order=30, key="knowledge.suggestions")]


@hookimpl
def crm_demo_data(workspace, seed, size, today):
    from .demo import add_demo

    add_demo(workspace, seed, today)


@hookimpl
def crm_register_commands(cli):
    from .commands import register

    register(cli)


@hookimpl
def crm_api_resources(workspace):
    """Articles and categories for other systems (a website, a chatbot); the counters are read-only."""
    stamps = ("id", "created_at", "updated_at", "updated_by", "version")
    return [
        ApiResource("kb_articles", "kb_articles", title="Knowledge base articles",
                    read_only=(*stamps, "views", "helpful_yes", "helpful_no", "published_at")),
        ApiResource("kb_categories", "kb_categories", title="Knowledge base categories"),
    ]  # fmt: skip
