"""The "Suggested articles" section of a ticket's page.

The contract with the page that shows it (the service plugin's ticket page, or any other):
the section is a ``param.Parameterized`` with a String param ``insert_text``; clicking
"Insert into reply" sets it to the article's public link (as ``"Title: https://.../kb/slug"``),
and the host page appends each new value to its reply composer::

    for section in ws.record_sections("tickets", ticket_id):
        obj = section.view()
        if isinstance(obj, param.Parameterized) and "insert_text" in obj.param:
            obj.param.watch(lambda e: setattr(body, "value", (body.value or "") + e.new), "insert_text")

No import between the plugins, no core change: the host page duck-types the param.
"Copy link" copies the link in the browser (a page not wired to the contract still works).
"""

from __future__ import annotations

import html
import json

import panel as pn
import param

from crm_workspace import Workspace

from . import model


class SuggestionsSection(pn.viewable.Viewer):
    workspace = param.ClassSelector(class_=Workspace)
    ticket_id = param.Integer()
    insert_text = param.String(default="", doc="Set to the text to insert into the reply (the contract above).")

    def __init__(self, **params):
        super().__init__(**params)
        self._column = pn.Column(sizing_mode="stretch_width", css_classes=["kb-suggestions"])
        self.workspace.param.watch(lambda _e: self._refresh(), "revision")
        self._refresh()

    def suggestions(self) -> list[dict]:
        ws = self.workspace
        if "tickets" not in {r["name"] for r in ws.query("SELECT name FROM sqlite_master WHERE type = 'table'")}:
            return []
        rows = ws.query("SELECT subject, description FROM tickets WHERE id = ?", [self.ticket_id])
        if not rows:
            return []
        return model.suggest(ws, rows[0]["subject"] or "", rows[0]["description"] or "")

    def insert(self, article: dict) -> None:
        """Hand the host page the article's link (``insert_text``), once per click."""
        text = f"{article['title']}: {article['url']}"
        self.insert_text = ""  # the same article twice is two insertions
        self.insert_text = text

    def _row(self, article: dict):
        link = pn.pane.HTML(
            f'<a href="{html.escape(article["url"])}" target="_blank" rel="noopener noreferrer">'
            f"{html.escape(article['title'])}</a>",
            sizing_mode="stretch_width",
        )
        insert = pn.widgets.Button(label="Insert into reply", color="primary", width=130, height=28)
        insert.on_click(lambda _e: self.insert(article))
        copy = pn.widgets.Button(label="Copy link", width=90, height=28)
        copy.js_on_click(code=f"navigator.clipboard && navigator.clipboard.writeText({json.dumps(article['url'])})")
        # Title on its own full-width line (wrapping normally), the two small buttons below it:
        # a narrow right column never squeezes the title to one word per line.
        return pn.Column(link, pn.Row(insert, copy), sizing_mode="stretch_width", css_classes=["kb-suggestion"])

    def _refresh(self) -> None:
        found = self.suggestions()
        if not found:
            self._column.objects = [pn.pane.HTML("<p class='muted'>No matching published article.</p>")]
        else:
            self._column.objects = [self._row(a) for a in found]

    def __panel__(self):
        return self._column
