"""The knowledge base: safe Markdown, FTS search with accents, ticket suggestions, the public /kb over HTTP."""

from __future__ import annotations

import re

import pytest
from crm_workspace_knowledge import model, routes
from crm_workspace_knowledge.markdown import render
from crm_workspace_knowledge.section import SuggestionsSection

from crm_workspace.errors import ValidationError
from crm_workspace.testing import route_server


@pytest.fixture
def kb(workspace):
    cat = model.save_category(workspace, "Account")
    model.save_article(
        workspace,
        {"title": "Reset your password", "body_md": "Use **Forgot password** on the sign-in page.",
         "category_id": cat["id"], "status": "published", "tags": "login"},
    )  # fmt: skip
    model.save_article(
        workspace,
        {"title": "Résumé of known issues", "body_md": "Our password policy changes.", "status": "published"},
    )
    model.save_article(workspace, {"title": "Secret draft", "body_md": "not yet", "category_id": cat["id"]})
    return workspace


def live_markup(out: str) -> list[tuple[str, dict]]:
    """The tags and attributes a browser would build from ``out`` (escaped text is not markup)."""
    from html.parser import HTMLParser

    found = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, dict(attrs)))

    Collect().feed(out)
    return found


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        "[click](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        '<img src=x onerror="alert(1)">',
        "![a](x onerror=alert(1))",
        "![a](http://tracker.example/p.gif)",
        '<a href="https://e.com" onclick="x()">a</a>',
        "<iframe src=https://evil.example></iframe>",
    ],
)
def test_markdown_is_sanitised(source):
    for tag, attrs in live_markup(render(source)):
        assert tag in {"p", "a", "img"}, tag
        assert not any(name.startswith("on") for name in attrs), attrs
        assert not re.match(r"\s*(javascript|data):", attrs.get("href", ""), re.I), attrs
        assert "src" not in attrs or attrs["src"].startswith("/"), attrs


def test_links_get_rel_and_local_images_stay():
    out = render("[docs](https://example.com) ![logo](/kb/logo.png)")
    assert 'rel="noopener noreferrer"' in out and 'src="/kb/logo.png"' in out


def test_search_ranks_title_folds_accents_and_hides_drafts(kb):
    titles = [r["title"] for r in model.search(kb, "password")]
    assert titles[0] == "Reset your password"  # the title outweighs a body mention
    assert "Résumé of known issues" in titles
    assert [r["title"] for r in model.search(kb, "resume")] == ["Résumé of known issues"]
    assert [r["title"] for r in model.search(kb, "RÉSUMÉ")] == ["Résumé of known issues"]
    assert model.search(kb, "draft") == []
    assert [r["title"] for r in model.search(kb, "draft", published_only=False)] == ["Secret draft"]
    assert model.search(kb, '" OR * NEAR(') == []  # user text is never FTS syntax


def test_search_follows_edits(kb):
    article = kb.query("SELECT id, version FROM kb_articles WHERE slug = 'reset-your-password'")[0]
    model.save_article(kb, {"title": "Change your passphrase"}, article_id=article["id"], version=article["version"])
    assert model.search(kb, "reset") == []
    assert [r["title"] for r in model.search(kb, "passphrase")] == ["Change your passphrase"]
    assert "kb_articles" in set(kb.search("passphrase")["type"])


def test_bad_article_is_refused(kb):
    with pytest.raises(ValidationError):
        model.save_article(kb, {"title": "", "body_md": "x"})
    with pytest.raises(ValidationError):
        model.save_article(kb, {"title": "X", "slug": "Not A Slug"})
    with pytest.raises(ValidationError, match="address"):
        model.save_article(kb, {"title": "Other", "slug": "reset-your-password"})


def test_suggestions_for_a_ticket(kb):
    found = kb.df("knowledge.suggest", subject="I forgot my password", body="I cannot sign in")
    assert found["title"].iloc[0] == "Reset your password"
    assert found["url"].iloc[0].endswith("/kb/reset-your-password")
    assert "Secret draft" not in set(found["title"])


def test_section_hands_the_link_to_the_reply(kb):
    kb.store.insert("tickets", {"subject": "Password reset?", "description": "cannot log in", "status": "open"})
    section = SuggestionsSection(workspace=kb, ticket_id=1)
    reply = []
    section.param.watch(lambda e: e.new and reply.append(e.new), "insert_text")
    first = section.suggestions()[0]
    section.insert(first)
    section.insert(first)
    assert reply == [f"Reset your password: {first['url']}"] * 2
    sections = kb.record_sections("tickets", 1)
    assert [s.key for s in sections if s.plugin == "knowledge"] == ["knowledge.suggestions"]


def test_each_suggestion_puts_its_title_above_its_buttons(kb):
    """A narrow right column never squeezes a title beside its buttons (one word per line)."""
    import panel as pn

    kb.store.insert("tickets", {"subject": "Password reset?", "description": "cannot log in", "status": "open"})
    section = SuggestionsSection(workspace=kb, ticket_id=1)
    row = section.__panel__().objects[0]
    assert isinstance(row, pn.Column)
    title, buttons = row.objects
    assert isinstance(title, pn.pane.HTML) and "Reset your password" in title.object
    assert [b.label for b in buttons.objects] == ["Insert into reply", "Copy link"]
    assert all(b.width <= 140 for b in buttons.objects)


def get(server, path, ua="pytest"):
    status, _headers, body = server.request("GET", path, headers={"User-Agent": ua})
    return status, body.decode()


def test_public_pages_over_http(kb):
    with route_server(kb) as server:
        status, body = get(server, "/kb")
        assert status == 200 and "Reset your password" in body and "Secret draft" not in body
        assert get(server, "/kb/secret-draft")[0] == 404
        assert get(server, "/kb/no-such-thing")[0] == 404
        status, body = get(server, "/kb/reset-your-password")
        assert status == 200 and "<strong>Forgot password</strong>" in body
        status, body = get(server, "/kb/search?q=resume")
        assert "Résumé of known issues" in body
        status, body = get(server, "/kb/search?q=%3Cscript%3E")
        assert "<script>" not in body and "&lt;script&gt;" in body
        status, headers, _ = server.request("GET", "/kb")
        assert "script-src" not in headers["Content-Security-Policy"]


def test_views_count_once_per_visitor_per_day(kb):
    with route_server(kb) as server:
        for _ in range(3):
            get(server, "/kb/reset-your-password", ua="reader-a")
        get(server, "/kb/reset-your-password", ua="reader-b")
    row = kb.query("SELECT views, version FROM kb_articles WHERE slug = 'reset-your-password'")[0]
    assert row["views"] == 2 and row["version"] == 1  # counters never bump the editor's version
    visitors = [r["visitor"] for r in kb.query("SELECT visitor FROM kb_hits")]
    assert all(re.fullmatch(r"[0-9a-f]{32}", v) for v in visitors)  # a hash, no address


def vote(server, slug, helpful, ua="voter"):
    return server.request(
        "POST",
        f"/kb/{slug}/vote",
        body=f"helpful={helpful}",
        headers={"User-Agent": ua, "Content-Type": "application/x-www-form-urlencoded"},
    )


def test_votes_once_per_visitor_and_rate_limited(kb, monkeypatch):
    monkeypatch.setattr(routes, "VOTES", routes.RateLimiter(per_minute=3))
    with route_server(kb) as server:
        status, headers, _ = vote(server, "reset-your-password", "yes")
        assert status == 303 and headers["Location"].endswith("voted=thanks")
        status, headers, _ = vote(server, "reset-your-password", "no")
        assert headers["Location"].endswith("voted=again")
        assert vote(server, "secret-draft", "yes")[0] == 404
        assert vote(server, "reset-your-password", "yes")[0] == 429
    row = kb.query("SELECT helpful_yes, helpful_no FROM kb_articles WHERE slug = 'reset-your-password'")[0]
    assert (row["helpful_yes"], row["helpful_no"]) == (1, 0)


def test_kb_public_off(kb):
    kb.set_setting("kb_public", False)
    with route_server(kb) as server:
        assert get(server, "/kb")[0] == 404
        assert get(server, "/kb/reset-your-password")[0] == 404


def test_page_is_read_only_for_viewers(kb):
    from crm_workspace_knowledge.views import KnowledgePage

    kb.store.insert("users", {"username": "vera", "display_name": "Vera", "role": "viewer"})
    page = KnowledgePage(workspace=kb.as_user("vera"))
    assert page.save.disabled and page.publish.disabled and page.body.disabled
    page.picker.value = page.picker.options["Secret draft (draft)"]
    assert page.body.value == "not yet"


def test_page_opens_the_article_in_its_address(kb):
    from crm_workspace_knowledge.views import KnowledgePage

    page = KnowledgePage(workspace=kb)
    kb.open_page("knowledge", id=2)
    assert page.title.value == "Résumé of known issues"
    kb.open_page("knowledge", id=999)  # gone: the page stays as it was
    assert page.title.value == "Résumé of known issues"


def test_the_editor_names_what_it_shows_and_the_list_reads_left_to_right(kb):
    from crm_workspace_knowledge.views import KnowledgePage

    page = KnowledgePage(workspace=kb)
    kb.open_page("knowledge", id=2)
    assert page.picker.value == 2  # the Article dropdown shows the loaded article, not a blank
    assert page.status_filter.value == "" and page.status_filter.options["All"] == ""
    page.status = "draft"  # the loaded (published) article is filtered out: still named while open
    assert page.picker.value == 2 and page.title.value == "Résumé of known issues"
    page.new.clicks += 1
    assert page.picker.value == 0 and page.title.value == ""  # "(new article)"
    listing = page.listing.object
    assert "<th>Title</th>" in listing and "text-align:left" in listing


def test_the_help_centre_does_not_link_to_itself(kb):
    with route_server(kb) as server:
        _status, body = get(server, "/kb")
        assert 'href="/kb">' not in body
        _status, body = get(server, "/kb/reset-your-password")
        assert 'href="/kb">' in body


def test_no_article_open_reads_new_article(kb):
    from crm_workspace_knowledge.views import KnowledgePage

    page = KnowledgePage(workspace=kb)
    assert page.picker.value == page.picker.options["(new article)"] == 0
    assert page.category.value == page.category.options["(none)"] == 0
