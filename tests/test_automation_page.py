"""The Automation page without a browser: the demo's rules and disabled webhook with its notice, the rule
form's save and refusal, subscribing from the page (the secret shown once), and no write while drawing."""

from __future__ import annotations

from crm_workspace_automation.views.page import AutomationPage

from crm_workspace.testing import page_text


def test_the_page_shows_rules_and_the_disabled_webhook_with_its_notice(demo_workspace):
    version = demo_workspace.store.data_version()
    page = AutomationPage(workspace=demo_workspace)
    text = page_text(page) + page_text(page._webhooks_tab())
    assert "Proposal sent: follow up in 3 days" in text and "Quiet lead" in text
    assert "https://hooks.example.invalid/crm" in text and "is disabled: disabled at" in text
    assert demo_workspace.store.data_version() == version  # drawing the page wrote nothing


def test_the_form_saves_a_rule_and_explains_a_refusal(demo_workspace):
    page = AutomationPage(workspace=demo_workspace)
    form = page.form
    page.draft.param.update(rule_name="Amount check", table="deals", when="change")
    condition = form.add_condition()
    condition.param.update(field="amount", op=">", value="50000")
    action = form.add_action()
    action.param.update(type="set_field", first="probability", second="80")
    rule = form.save()
    assert rule["conditions"] == [{"field": "amount", "op": ">", "value": 50000}]
    assert rule["actions"] == [{"type": "set_field", "field": "probability", "value": 80}]
    assert "Amount check" in page_text(page)
    page.draft.param.update(rule_name="", table="deals", when="time")
    assert form.save() is None
    assert "Not saved" in page_text(form) and "give the rule a name" in page_text(form)


def test_subscribing_from_the_page_shows_the_secret_once(demo_workspace):
    demo_workspace.set_setting("webhooks_allow_private", True)
    page = AutomationPage(workspace=demo_workspace)
    page.param.update(new_url="http://127.0.0.1:9/hook", new_events=["deal.won"])
    page._subscribe()
    shown = page_text(page._secret)
    newest = demo_workspace.store.scalar("SELECT max(id) FROM webhook_subscriptions")
    secret = demo_workspace.store.secret("webhook_subscriptions", "secret", newest)
    assert "shown once" in shown and secret in shown
    again = AutomationPage(workspace=demo_workspace)  # the next visit
    assert secret not in page_text(again._webhooks_tab())
