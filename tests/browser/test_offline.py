"""No request leaves the machine: every page loads fonts, icons and scripts from the served host only."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

PAGES = ["home", "contacts", "organizations", "pipeline", "relationships", "lifecycle", "excel", "audit"]


def load_recording_requests(page, url: str) -> list[str]:
    """Every URL the browser asked for while loading ``url`` until the page's ready mark."""
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(url)
    page.wait_for_function("document.body.dataset.ready", timeout=60_000)
    page.wait_for_timeout(500)  # late stylesheets and fonts of what just rendered
    return requested


@pytest.mark.parametrize("name", PAGES)
def test_a_page_requests_nothing_but_the_served_host(page, served_demo, name):
    requested = load_recording_requests(page, f"{served_demo.url}?page={name}")
    assert requested, "the page made no request at all"
    served = urlparse(served_demo.url).netloc
    outside = [url for url in requested if urlparse(url).scheme in ("http", "https", "ws", "wss")]
    outside = [url for url in outside if urlparse(url).netloc != served]
    assert not outside, f"the {name} page reached outside the machine: {outside}"


def test_navigation_shows_icons_not_emoji(page, served_demo, tmp_path):
    page.goto(f"{served_demo.url}?page=home")
    page.wait_for_function("document.body.dataset.ready", timeout=60_000)
    contacts = page.get_by_role("button", name="Contacts").first
    assert "👥" not in contacts.inner_text()
    # an inline <svg> in the button, or the navigation's icon drawn before the label (app.nav_icons_css)
    has_icon = contacts.evaluate(
        "el => Boolean(el.querySelector('svg')) || getComputedStyle(el, '::before').maskImage.includes('svg')"
    )
    assert has_icon, "the Contacts button has no icon"
    page.screenshot(path=str(tmp_path / "navigation.png"))
