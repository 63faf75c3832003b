"""A list's cells are text: markup a customer typed is sent as the text it is and shown escaped, with the
whole text on hover (list_table.js escapes every cell but the columns whose HTML the server built)."""

from __future__ import annotations

import json

import pandas as pd


def test_marketing_tables_send_names_as_text():
    from crm_workspace_marketing.views.common import table

    shown = table(pd.DataFrame({"name": ["<img src=x onerror=alert(1)>"], "sent": [3], "at": ["2026-11-30T09:00:00Z"]}))
    payload = json.loads(shown.payload)
    html = {c["field"]: c["html"] for c in payload["columns"]}
    assert html == {"name": False, "sent": False, "at": True}  # only the server's own "3 days ago" markup
    assert payload["rows"][0][0] == "<img src=x onerror=alert(1)>"
    assert "<img" not in payload["rows"][0][2] and payload["rows"][0][2].startswith("<time class='crm-when'")
