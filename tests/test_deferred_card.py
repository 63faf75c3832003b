"""``lazy_card``: a collapsed card's content is made the first time it is opened, and once."""

from __future__ import annotations

import panel as pn

from crm_workspace.web.deferred import lazy_card


def test_the_content_is_built_on_first_opening_only():
    calls = []

    def build():
        calls.append(1)
        return [pn.pane.Markdown("a"), pn.pane.Markdown("b")]

    card = lazy_card(build, title="Filters", sizing_mode="stretch_width")
    assert card.collapsed and card.title == "Filters" and list(card.objects) == [] and calls == []
    card.collapsed = False
    assert [o.object for o in card.objects] == ["a", "b"] and calls == [1]
    card.collapsed = True
    card.collapsed = False
    assert calls == [1] and len(card.objects) == 2


def test_one_object_is_the_content():
    card = lazy_card(lambda: pn.pane.Markdown("only"), title="One")
    card.collapsed = False
    assert [o.object for o in card.objects] == ["only"]
