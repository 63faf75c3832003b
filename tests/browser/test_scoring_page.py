"""The Lead scores page in a real Chromium: the model card, and retraining from its button."""

from __future__ import annotations

import pytest
from conftest import open_page
from playwright.sync_api import expect

pytestmark = pytest.mark.xdist_group("score19")


def test_the_page_shows_the_model_card_and_retrains_from_the_button(page, served_demo):
    page.set_default_navigation_timeout(60_000)
    open_page(page, served_demo, "scoring")
    card = page.locator(".score-model-card")
    card.get_by_text("Model v1").wait_for(timeout=60_000)
    assert card.get_by_text("Hold-out AUC").is_visible()
    expect(page.get_by_text("Senior title").first).to_be_visible()  # the rules list
    bars = page.locator(".crm-bar")  # the distribution, drawn as plain HTML bars
    bars.first.wait_for()
    assert bars.count() >= 3 and page.get_by_text("rule points from").is_visible()
    page.get_by_role("button", name="Retrain model").click()
    card.get_by_text("Model v2").wait_for(timeout=60_000)  # trained in the server, the card redrawn
    assert page.locator(".alert-danger").count() == 0
