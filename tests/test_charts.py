"""Charts without a toolbar carry no tools a person cannot see: Bokeh's defaults (pan, wheel and box
zoom, save, reset, help) stayed active behind a hidden toolbar, so a drag moved a chart with no way back,
and each cost the page a dozen models on the server and in the browser."""

from __future__ import annotations

import ast

from helpers import ROOT, shipped_sources


def hidden_toolbars_with_default_tools(source: str) -> list[int]:
    """Lines of ``figure(...)`` calls with ``toolbar_location=None`` and no ``tools=``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and ast.unparse(node.func).split(".")[-1] == "figure":
            keywords = {k.arg: k.value for k in node.keywords}
            hidden = isinstance(keywords.get("toolbar_location"), ast.Constant) and (
                keywords["toolbar_location"].value is None
            )
            if hidden and "tools" not in keywords:
                found.append(node.lineno)
    return found


def test_no_chart_hides_its_toolbar_but_keeps_the_default_tools():
    problems = [
        f"{path.relative_to(ROOT)}:{line}"
        for path, source in shipped_sources()
        for line in hidden_toolbars_with_default_tools(source)
    ]
    assert not problems, "figure(toolbar_location=None) without tools= (add tools='' or 'hover'):\n  " + "\n  ".join(
        problems
    )
    assert hidden_toolbars_with_default_tools("figure(height=2, toolbar_location=None)") == [1]
    assert hidden_toolbars_with_default_tools("figure(toolbar_location=None, tools='')") == []
