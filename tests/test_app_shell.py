"""The app shell in Python (no server): navigation, record pages, error cards."""

from crm_workspace import Workspace


def test_navigation_and_record_links(demo_workspace: Workspace):
    app = demo_workspace.app()
    names = list(app.nav.options.values())
    assert names[0] == "home" and {"contacts", "pipeline", "relationships", "lifecycle", "excel"} <= set(names)
    demo_workspace.open_page("contacts", id=5)
    assert app.nav.value == "contacts" and demo_workspace.page_args == {"id": 5}
    app.nav.value = "pipeline"
    assert demo_workspace.page == "pipeline"
    app.nav.value = "contacts"  # a click in the navigation opens the list, not the last record
    assert demo_workspace.page == "contacts" and demo_workspace.page_args == {}
    assert app.main.objects[0] is app._rendered["contacts"]


def test_sessions_have_their_own_page_and_user(demo_workspace: Workspace):
    other = demo_workspace.as_user("ben")
    other.open_page("pipeline")
    assert demo_workspace.page == "home" and other.user == "ben"
    assert other.store.pool is demo_workspace.store.pool


def test_serve_passes_its_options_to_the_app_not_through_the_environment(tmp_path, monkeypatch):
    import os

    from click.testing import CliRunner

    from crm_workspace.cli import cli
    from crm_workspace.web import server
    from crm_workspace.web.app import ServeConfig

    db = tmp_path / "crm.db"
    Workspace.open(db, builtins_only=True).close()
    seen = {}
    monkeypatch.setattr(server, "serve", lambda config, **options: seen.update(config=config, **options))
    monkeypatch.delenv("CRM_DB", raising=False)
    monkeypatch.delenv("CRM_USER", raising=False)
    before = dict(os.environ)
    result = CliRunner().invoke(cli, ["--db", str(db), "--user", "ana", "serve", "--port", "0"])
    assert result.exit_code == 0, result.output
    assert seen["config"] == ServeConfig(path=str(db.resolve()), user="ana") and seen["port"] == 0
    assert dict(os.environ) == before


def test_page_and_record_round_trip_through_the_address():
    from crm_workspace.web.router import page_query, parse_query, session_query

    assert page_query("home", {}) == "" and parse_query("") == ("home", {})
    assert page_query("contacts", {"id": 12}) == "page=contacts&id=12"
    assert parse_query("?page=contacts&id=12") == ("contacts", {"id": 12})
    assert parse_query("page=organizations&id=abc") == ("organizations", {"id": "abc"})
    assert session_query({"page": [b"pipeline"], "deal": [b"7"]}) == "page=pipeline&deal=7"


def test_the_address_follows_the_page_and_back_shows_the_page(demo_workspace: Workspace):
    app = demo_workspace.app()
    demo_workspace.open_page("contacts", id=5)
    assert app.router.query == "page=contacts&id=5"
    app.router.query = "page=organizations&id=2"  # Back/Forward: router.js sets the query
    assert (demo_workspace.page, demo_workspace.page_args) == ("organizations", {"id": 2})
    assert app.nav.value == "organizations"  # an organization's page highlights Organizations
    app.router.query = ""
    assert demo_workspace.page == "home" and app.nav.value == "home"


def test_unknown_page_or_record_is_a_friendly_not_found(demo_workspace: Workspace):
    app = demo_workspace.app()
    demo_workspace.open_page("no-such-page")
    assert app.nav.value is None
    assert "Page not found" in app.main.objects[0][0].object
    assert demo_workspace.app().nav.value is None  # opened on a stale link: no entry highlighted
    demo_workspace.open_page("contacts", id=999_999)
    assert "Contact not found" in app.main.objects[0].objects[0][0].object  # the page's body, then its card
    demo_workspace.open_page("organizations", id="x")
    assert "Organization not found" in app.main.objects[0].objects[0][0].object
