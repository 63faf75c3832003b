"""On a phone a table's rows are cards: each cell says its column's title (crm_workspace/web/responsive.py)."""

from __future__ import annotations

import re

import pandas as pd
import panel as pn

from crm_workspace.web.app import OfflineFast
from crm_workspace.web.responsive import card_labels_css, css_string


def test_a_title_cannot_end_its_css_string():
    hostile = 'x"} body {display:none} \\ </style>\n'
    quoted = css_string(hostile)
    inner = quoted[1:-1]
    assert quoted.startswith('"') and quoted.endswith('"')
    assert not re.search(r'["{}<>\n;]', inner), quoted  # only letters, digits, spaces and escapes
    assert css_string("Sent") == '"Sent"'


def test_each_shown_column_gets_its_title_and_hidden_ones_none():
    frame = pd.DataFrame({"id": [1], "sent": [114], "open_rate": [0.35], "secret": ["x"]})
    table = pn.widgets.Tabulator(frame, show_index=False, titles={"sent": "Sent"}, hidden_columns=["id", "secret"])
    css = card_labels_css(table)
    assert '[tabulator-field="sent"]::before {content: "Sent";}' in css
    assert 'tabulator-field="open\\00005frate"]::before {content: "Open rate";}' in css  # a label, not a code
    assert '"id"' not in css and "secret" not in css
    assert css.startswith("@media (max-width: 760px)")


def test_the_design_gives_every_table_its_labels():
    frame = pd.DataFrame({"sent": [114]})
    table = pn.widgets.Tabulator(frame, show_index=False, titles={"sent": "Sent"})
    modifiers, _ = OfflineFast._get_modifiers(table, OfflineFast._themes["default"])
    assert any('content: "Sent"' in str(sheet) for sheet in modifiers["stylesheets"])
    other, _ = OfflineFast._get_modifiers(pn.pane.Markdown("x"), OfflineFast._themes["default"])
    assert not any("content:" in str(sheet) for sheet in other["stylesheets"])


def test_a_table_filled_later_is_labelled_from_its_titles():
    table = pn.widgets.Tabulator(None, titles={"first_name": "First name"})
    assert 'content: "First name"' in card_labels_css(table)
