"""Security review of the mail services: templates cannot exhaust the server."""

from __future__ import annotations

import pytest

from crm_workspace.services import templates


@pytest.mark.parametrize(
    "source", ["{{ 'a' * 10**9 }}", "{{ 10**9 * 'ab' }}", "{{ 2 ** 100000000 }}", "{{ [1] * 10**9 }}"]
)
def test_a_template_cannot_build_huge_values(source):
    with pytest.raises(templates.TemplateProblem, match="too large"):
        templates.render(source, {}, html=False)


def test_ordinary_arithmetic_still_works():
    assert templates.render("{{ '-' * 3 }} {{ 2 ** 10 }} {{ price * 2 }}", {"price": 5}, html=True) == "--- 1024 10"
