"""The served app in a real Chromium: home, navigation, every page, live refresh."""

from __future__ import annotations

import re

from conftest import open_page

from crm_workspace import Workspace

MODULE_PAGES = {
    "contacts": "Contacts",
    "pipeline": "Pipeline",
    "relationships": "Relationships",
    "lifecycle": "Lifecycle",
}


def kpi_value(page, label: str):
    """The value of the KPI card whose label is exactly ``label``."""
    card = page.locator(".crm-kpi").filter(has=page.locator(".label", has_text=re.compile(f"^{label}$")))
    return card.locator(".value").first


def test_home_shows_kpis_and_the_acting_user(page, served_demo):
    open_page(page, served_demo)
    value = kpi_value(page, "Contacts")
    value.wait_for()
    assert value.inner_text() == "300"
    assert page.get_by_text("ana", exact=False).first.is_visible()


def test_navigation_lists_every_module_and_each_page_opens(page, served_demo):
    open_page(page, served_demo)
    for title in [*MODULE_PAGES.values(), "Import"]:
        button = page.get_by_role("button", name=title)
        assert button.is_visible(), title
    for name, title in MODULE_PAGES.items():
        page.get_by_role("button", name=title).click()
        page.wait_for_function(f"window.location.search.includes('page={name}')")
        page.wait_for_timeout(500)
        assert page.locator(".alert-danger").count() == 0, f"{name} page shows an error card"


def test_a_change_from_another_process_appears_without_reload(page, served_demo):
    open_page(page, served_demo)
    value = kpi_value(page, "Contacts")
    value.wait_for()
    before = int(re.sub(r"\D", "", value.inner_text()))
    other = Workspace.open(served_demo.db, user="ana", load_plugins=False)
    other.store.insert("contacts", {"first_name": "Live", "last_name": "Update"})
    other.close()
    kpi_value(page, "Contacts").filter(has_text=f"{before + 1:,}").wait_for(timeout=5000)
