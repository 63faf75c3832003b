"""Articles' Markdown as safe HTML: markdown-it-py (raw HTML off) then nh3 with a small allow-list.

Raw HTML in the source is shown as text (the parser's ``html`` option is off); the
rendered HTML is then cleaned by nh3 anyway (defence in depth): only the tags and
attributes below survive, links may be ``http``, ``https``, ``mailto`` or relative and
get ``rel="noopener noreferrer"``, and images are kept only when served by this host
(a relative ``/path``): the public pages' CSP (``img-src 'self'``) would block others,
and a remote image would tell its host who reads which article.
"""

from __future__ import annotations

import html
import re

import nh3
from markdown_it import MarkdownIt

TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "b", "i", "s", "code", "pre",
    "blockquote", "ul", "ol", "li", "a", "img", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "th": {"align"}, "td": {"align"}}
URL_SCHEMES = {"http", "https", "mailto"}

_parser = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")
_parser.enable("strikethrough")


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    if tag == "img" and attribute == "src" and not re.match(r"^/(?!/)", value or ""):
        return None  # only images this host serves
    return value


def render(source: str | None) -> str:
    """The sanitised HTML of Markdown ``source``."""
    raw = _parser.render(source or "")
    return nh3.clean(
        raw,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
        attribute_filter=_attribute_filter,
    )


def plain(source: str | None, length: int = 200) -> str:
    """A plain-text excerpt of Markdown ``source`` (tags removed), for lists and search results."""
    text = html.unescape(nh3.clean(render(source), tags=set()))
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"
