"""The app shell in Python (no server): navigation, record pages, error cards."""

import panel as pn
import pytest

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
    from crm_workspace.web.session import ServeConfig

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


def test_without_login_the_app_acts_as_a_team_member_never_the_os_account(demo_workspace: Workspace):
    from crm_workspace.web.identity import USER_COOKIE, chosen_member, who_are_you

    store = demo_workspace.store
    assert chosen_member(store, "ben", {}) == ("ben", False)  # crm serve --user ben
    assert chosen_member(store, "root", {}) == (None, False)  # the OS account: ask who you are
    assert chosen_member(store, "root", {USER_COOKIE: "chloe"}) == ("chloe", True)  # picked in this browser
    assert chosen_member(store, None, {USER_COOKIE: "mallory"}) == (None, False)  # not on the team
    picker = who_are_you(store)
    assert "Who are you?" in picker[0].object
    assert [label.split(" — ")[0] for label in picker[1].options] == ["ana", "ben", "chloe", "dev", "eve", "tester"]
    # `crm init --demo` run as root makes root the first admin; serving as root still asks who you are
    store.insert("users", {"username": "root", "display_name": "root", "role": "admin"})
    assert chosen_member(store, None, {}, fallback="root") == (None, False)
    assert chosen_member(store, "root", {}, fallback="root") == ("root", False)  # crm serve --user root


def test_a_workspace_without_users_keeps_its_configured_user(workspace: Workspace):
    from crm_workspace.web.identity import chosen_member

    assert chosen_member(workspace.store, "tester", {}) == ("tester", False)
    assert chosen_member(workspace.store, None, {}, fallback="root") == ("root", False)  # the OS account


def test_a_viewer_sees_read_only_record_and_board(demo_workspace: Workspace):
    from crm_workspace_contacts.views import ContactRecord, OrganizationRecord
    from crm_workspace_pipeline.views import PipelinePage

    viewer = demo_workspace.as_user("eve")
    contact_id = viewer.store.scalar("SELECT min(id) FROM contacts")
    org_id = viewer.store.scalar("SELECT min(id) FROM organizations")
    for record in (
        ContactRecord(workspace=viewer, record_id=contact_id),
        OrganizationRecord(workspace=viewer, record_id=org_id),
    ):
        assert record.edit.disabled and "Read-only" in record.edit.description
        assert isinstance(record.logger, pn.pane.Markdown)  # no activity logger to fail on save
    from crm_workspace_contacts.views import ContactListView, OrganizationsPage

    assert ContactListView(workspace=viewer).new.disabled and OrganizationsPage(workspace=viewer).new.disabled
    board_page = PipelinePage(workspace=viewer)
    assert board_page.board.readonly and board_page.add_deal.disabled
    member = demo_workspace.as_user("ben")
    assert not ContactRecord(workspace=member, record_id=contact_id).edit.disabled
    assert not PipelinePage(workspace=member).board.readonly


def test_a_deal_has_its_own_address_and_an_unknown_one_is_not_found(workspace):
    from crm_workspace_pipeline.views import PipelinePage

    deal_id = workspace.store.insert("deals", {"title": "Linked deal", "stage": "qualification", "amount": 10})["id"]
    workspace.open_page("pipeline", deal=deal_id)  # a shared link or a reload
    page = PipelinePage(workspace=workspace)
    assert page.form.deal_id == deal_id and page.form.layout.visible
    workspace.open_page("pipeline")  # Back
    assert not page.form.layout.visible
    page.handle({"type": "open", "id": deal_id})  # a click on the card
    assert workspace.page_args == {"deal": deal_id}
    workspace.open_page("pipeline", deal=999_999)
    assert page.message.visible and "Deal not found" in page.message.object


def test_a_notebook_app_has_its_page_at_once(demo_workspace: Workspace):
    """Served, the page is built after the server answered (tests/browser/test_page_build.py); in a notebook at once."""
    assert len(demo_workspace.app().main.objects) == 1


@pytest.mark.parametrize("action", ["click", "typed"])
def test_a_session_counts_as_connected_from_the_browsers_first_message(action):
    """Panel drops the server's changes until it counts the session connected (the browser's report that
    it drew the page): a click or a typed value sent before that report must count, the server's own
    changes must not (crm_workspace/web/session.py ``connected_on_first_input``)."""
    from bokeh.core.serialization import Serializer
    from bokeh.document import Document
    from bokeh.events import ButtonClick
    from bokeh.models import Button, TextInput

    from crm_workspace.web.session import connected_on_first_input

    class Browser:
        """What Bokeh's server passes as the setter of the browser connection's changes."""

    doc = Document()
    button, box = Button(), TextInput()
    doc.add_root(button)
    doc.add_root(box)
    connected_on_first_input(doc)
    box.value = "set by the server"
    assert not pn.state._connected.get(doc)
    if action == "click":
        message = Serializer(references=set(doc.models)).encode(ButtonClick(button))
        event = {"kind": "MessageSent", "msg_type": "bokeh_event", "msg_data": message}
    else:
        event = {"kind": "ModelChanged", "model": {"id": box.id}, "attr": "value", "new": "typed"}
    doc.apply_json_patch({"events": [event]}, setter=Browser())
    assert pn.state._connected.get(doc)
