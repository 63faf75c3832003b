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
