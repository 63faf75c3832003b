"""The "Knowledge base" page: find articles, write them in Markdown with a live sanitised preview, publish.

Viewers (``workspace.read_only``) read: the editor's controls are disabled. Queries and
writes live in ``model``; the preview is ``markdown.render`` (the same sanitiser as /kb).
"""

from __future__ import annotations

import html

import panel as pn
import param

from crm_workspace import Workspace
from crm_workspace.errors import CrmError
from crm_workspace.web.icons import svg

from . import model
from .markdown import render
from .schema import STATUSES

READ_ONLY_TIP = "Viewers cannot change articles"
NONE = 0  # "(new article)" / "(none)" in a dropdown: a browser Select shows a None value as a blank box


class KnowledgePage(pn.viewable.Viewer):
    workspace = param.ClassSelector(class_=Workspace)
    text = param.String(default="", doc="Search text")
    status = param.Selector(default="", objects=["", *STATUSES])
    article_id = param.Integer(default=None, allow_None=True)

    def __init__(self, **params):
        super().__init__(**params)
        ws = self.workspace
        locked = ws.read_only
        self._version = None
        self._source = ""
        self.search = pn.widgets.TextInput.from_param(
            self.param.text, label="Search", placeholder="Search articles…", onkeyup=True, width=260
        )
        self.status_filter = pn.widgets.Select.from_param(
            self.param.status, label="Status", options={"All": "", **{s.capitalize(): s for s in STATUSES}}, width=120
        )
        self.listing = pn.pane.HTML(sizing_mode="stretch_width", css_classes=["kb-list"])
        self.picker = pn.widgets.Select(label="Article", options={"(new article)": NONE}, value=NONE, width=320)
        self.picker.param.watch(lambda e: self._open(e.new), "value")
        self.new = pn.widgets.Button(
            label="New article", disabled=locked, description=READ_ONLY_TIP if locked else None
        )
        self.new.on_click(lambda _e: self._open(None))
        self.title = pn.widgets.TextInput(label="Title", disabled=locked, sizing_mode="stretch_width")
        self.category = pn.widgets.Select(label="Category", options={}, disabled=locked, width=220)
        self.tags = pn.widgets.TextInput(label="Tags", placeholder="comma, separated", disabled=locked, width=260)
        self.body = pn.widgets.TextAreaInput(
            label="Markdown", height=320, sizing_mode="stretch_width", disabled=locked, css_classes=["kb-body"]
        )
        self.preview = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["kb-preview"], min_height=320)
        self.body.param.watch(lambda e: self._preview(e.new), "value_input")
        self.body.param.watch(lambda e: self._preview(e.new), "value")
        self.state = pn.pane.HTML("", css_classes=["kb-state"])
        self.save = pn.widgets.Button(label="Save draft", color="primary", disabled=locked)
        self.save.on_click(lambda _e: self._save(None))
        self.publish = pn.widgets.Button(label="Publish", color="success", disabled=locked)
        self.publish.on_click(lambda _e: self._save("published"))
        self.unpublish = pn.widgets.Button(label="Unpublish", disabled=locked)
        self.unpublish.on_click(lambda _e: self._save("draft"))
        self.message = pn.pane.Alert("", visible=False, alert_type="danger")
        self.new_category = pn.widgets.TextInput(label="New category", disabled=locked, width=220)
        self.add_category = pn.widgets.Button(label="Add category", disabled=locked, align="end")
        self.add_category.on_click(self._add_category)
        ws.param.watch(lambda _e: self._refresh(), "revision")
        ws.param.watch(lambda _e: self._follow_address(), "page_args")
        self._refresh()
        self._open(None)
        self._follow_address()

    def _follow_address(self) -> None:
        """``open_page("knowledge", id=N)`` (and ``?page=knowledge&id=N``) opens article N."""
        wanted = (self.workspace.page_args or {}).get("id") if self.workspace.page == "knowledge" else None
        if wanted in (None, "") or not str(wanted).isdigit() or int(wanted) == self.article_id:
            return
        try:
            self._open(int(wanted))
        except CrmError:
            return

    @param.depends("text", "status", watch=True)
    def _refresh(self) -> None:
        ws = self.workspace
        rows = model.list_articles(ws, status=self.status or None, text=self.text, limit=100)
        # a real entry for "nothing open": the browser never shows a blank box or picks the first article
        options = {"(new article)": NONE, **{f"{r['title']} ({r['status']})": r["id"] for r in rows}}
        if self.article_id is not None and self.article_id not in options.values():
            try:  # filtered out: still named while it is open
                loaded = model.get_article(ws, self.article_id)
                options[f"{loaded['title']} ({loaded['status']})"] = loaded["id"]
            except CrmError:
                self.article_id = None
        self.picker.options = options
        self.picker.value = NONE if self.article_id is None else self.article_id
        self.category.options = {"(none)": NONE, **{c["name"]: c["id"] for c in model.categories(ws)}}
        self.listing.object = _listing_html(rows)

    def _open(self, article_id) -> None:
        self.message.visible = False
        if not article_id:  # None or NONE: a new article
            self.article_id, self._version = None, None
            self.picker.value = NONE
            self.title.value, self.tags.value, self.body.value, self.category.value = "", "", "", NONE
            self.state.object = "<em>New article (draft)</em>"
            self.unpublish.visible = False
            return
        article = model.get_article(self.workspace, article_id)
        self.article_id, self._version = article["id"], article["version"]
        if article["id"] in self.picker.options.values():
            self.picker.value = article["id"]  # the dropdown names the article in the editor
        self.title.value = article["title"] or ""
        self.tags.value = article["tags"] or ""
        self.body.value = article["body_md"] or ""
        self.category.value = article["category_id"] or NONE
        published = article["status"] == "published"
        link = model.article_url(self.workspace, article["slug"])
        self.state.object = (
            f"<b>{html.escape(article['status'])}</b> · {int(article['views'] or 0):,} views · "
            f"<span title='helpful'>{svg('thumb-up', 15)} {int(article['helpful_yes'] or 0)}</span>"
            f" <span title='not helpful'>{svg('thumb-down', 15)} {int(article['helpful_no'] or 0)}</span>"
            + (
                f' · <a href="{html.escape(link)}" target="_blank" rel="noopener">{html.escape(link)}</a>'
                if published
                else ""
            )
        )
        self.unpublish.visible = published

    def _preview(self, source) -> None:
        self._source = source or ""  # the latest text, typed (value_input) or set (value)
        self.preview.object = f'<div class="kb-rendered">{render(source)}</div>'

    def _save(self, status) -> None:
        record = {
            "title": self.title.value,
            "tags": self.tags.value,
            "body_md": self._source,
            "category_id": self.category.value or None,
        }
        if status:
            record["status"] = status
        try:
            row = model.save_article(self.workspace, record, article_id=self.article_id, version=self._version)
        except CrmError as error:
            self.message.object = html.escape(str(error))
            self.message.visible = True
            return
        self.workspace.changed()
        self.picker.value = row["id"]
        self._open(row["id"])

    def _add_category(self, _event) -> None:
        try:
            model.save_category(self.workspace, self.new_category.value)
        except CrmError as error:
            self.message.object = html.escape(str(error))
            self.message.visible = True
            return
        self.new_category.value = ""
        self.workspace.changed()

    def __panel__(self):
        editor = pn.Column(
            pn.Row(self.picker, self.new),
            self.state,
            self.message,
            pn.Row(self.title, self.category, self.tags, sizing_mode="stretch_width"),
            pn.Row(self.body, self.preview, sizing_mode="stretch_width"),
            pn.Row(self.save, self.publish, self.unpublish),
            sizing_mode="stretch_width",
        )
        return pn.Column(
            pn.pane.HTML("<h2>Knowledge base</h2>"),
            pn.Row(self.search, self.status_filter, self.new_category, self.add_category),
            editor,
            pn.pane.HTML("<h3>Articles</h3>"),
            self.listing,
            sizing_mode="stretch_width",
        )


def _listing_html(rows: list[dict]) -> str:
    if not rows:
        return "<p><em>No articles.</em></p>"
    body = "".join(
        f"<tr><td class='kb-title'>{html.escape(r['title'])}</td><td>{html.escape(r['category'] or '')}</td>"
        f"<td>{html.escape(r['status'])}</td><td class='kb-num'>{int(r['views'] or 0):,}</td>"
        f"<td>{int(r['helpful_yes'] or 0)} / {int(r['helpful_no'] or 0)}</td></tr>"
        for r in rows
    )
    style = (
        "<style>.kb-table{border-collapse:collapse;width:100%}.kb-table th,.kb-table td{text-align:left;"
        "padding:4px 10px;border-bottom:1px solid #e5e7eb}.kb-table td.kb-num,.kb-table th.kb-num"
        "{text-align:right}</style>"
    )
    return (
        f"{style}<table class='kb-table'><thead><tr><th>Title</th><th>Category</th><th>Status</th>"
        f"<th class='kb-num'>Views</th><th>Helpful yes / no</th></tr></thead><tbody>{body}</tbody></table>"
    )
