"""Tabulator (6.x, as Panel bundles it) shows a cell's tooltip by setting its innerHTML to the raw
cell value: a table of user text with cell tooltips on runs that text as HTML on hover."""

from __future__ import annotations

import pandas as pd


def test_marketing_tables_have_no_cell_tooltips():
    from crm_workspace_marketing.views.common import table

    shown = table(pd.DataFrame({"name": ["<img src=x onerror=alert(1)>"], "sent": [3]}))
    defaults = shown._configuration.get("columnDefaults", {})  # what Panel hands Tabulator
    assert not defaults.get("tooltip")
    assert list(shown.value["name"]) == ["<img src=x onerror=alert(1)>"]  # shown as text by the plaintext formatter
