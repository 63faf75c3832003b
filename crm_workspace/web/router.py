"""The address bar as the app's state: every page and record has a URL, Back and Forward work.

``Router`` is a tiny ESM component (router.js): Python sets ``query`` when the page
changes and the browser gets a history entry; Back/Forward send the address's query
back. ``page_query`` and ``parse_query`` turn ``workspace.page``/``page_args`` into a
query string and back, so reloads and shared links land on the same screen.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import param
from panel.custom import JSComponent

HOME = "home"


def page_query(page: str, args: dict[str, Any] | None = None) -> str:
    """The query string of a page and its arguments: ``page=contacts&id=12``; the home page is ``""``."""
    items = {k: v for k, v in sorted((args or {}).items()) if v is not None and v != ""}
    if page == HOME and not items:
        return ""
    return urlencode({"page": page, **items})


def _value(text: str) -> Any:
    """A record id in the address is a number: ``"12"`` becomes ``12``; anything else stays text."""
    return int(text) if text.isdigit() and len(text) < 19 else text


def parse_query(query: str) -> tuple[str, dict[str, Any]]:
    """``(page, args)`` of a query string (with or without ``?``); no page is the home page."""
    pairs = parse_qsl(query.lstrip("?"), keep_blank_values=False)
    args = {key: _value(value) for key, value in pairs}
    page = str(args.pop("page", "") or HOME)
    return page, args


def session_query(session_args: dict[str, list[bytes]]) -> str:
    """The query of the address a session was opened with (Panel's ``pn.state.session_args``)."""
    pairs = [(key, values[-1].decode(errors="replace")) for key, values in session_args.items() if values]
    return urlencode(pairs)


class Router(JSComponent):
    """Pushes a history entry when ``query`` changes; sets ``query`` on Back/Forward."""

    query = param.String(default="", doc="The address's query string, without '?'.")

    _esm = Path(__file__).parent / "router.js"
