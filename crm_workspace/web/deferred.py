"""Sections a page builds after it is shown: what lies below the first screen must not hold up the page.

A served page is ready (``ReadyMark``, crm_workspace/web/app.py) once its first screen
is in the browser. ``after_ready`` returns a placeholder for a costly section (charts,
tables further down) and builds the section in the server's next turn after the
browser has the page, so the ready mark and the first screen go out first and the
section follows a moment later. In a notebook (no server) the section is built at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import panel as pn

#: What a section shows until it is built: a line of muted text, the height it will take.
PLACEHOLDER = "<div class='crm-deferred' style='color:#5f6b7a;padding:8px 0'>Loading…</div>"


def after_ready(build: Callable[[], Any], *, min_height: int = 0, **layout: Any) -> pn.Column:
    """A column that shows ``build()`` once the page is in the browser (at once when not served).

    ``min_height`` keeps the space the section will take, so the page does not jump
    when it arrives. ``build`` runs with the document lock held, like any callback.
    """
    holder = pn.Column(pn.pane.HTML(PLACEHOLDER), min_height=min_height or None, **layout)

    def fill() -> None:
        holder.objects = [build()]

    def schedule() -> None:
        pn.state.execute(fill, schedule=True)  # the next turn: after the ready mark's message has gone out

    pn.state.onload(schedule)
    return holder


def lazy_tabs(*tabs: tuple[str, Callable[[], Any]], active: int = 0, **params: Any) -> pn.Tabs:
    """Tabs that build a tab's content the first time it is shown: ``(title, build)`` pairs.

    Panel's ``Tabs(dynamic=True)`` only skips drawing the hidden tabs; their Python
    objects (and the queries behind them) would still be made with the page. Here the
    shown tab is built with the page, each other one on its first visit.
    """
    holders = [pn.Column(sizing_mode="stretch_width") for _ in tabs]
    built: set[int] = set()

    def show(index: int) -> None:
        if 0 <= index < len(tabs) and index not in built:
            built.add(index)
            holders[index].objects = [tabs[index][1]()]

    layout = pn.Tabs(
        *[(title, holder) for (title, _build), holder in zip(tabs, holders, strict=True)],
        active=active,
        dynamic=True,
        **params,
    )
    show(active)
    layout.param.watch(lambda event: show(event.new), "active")
    return layout


def lazy_card(build: Callable[[], Any], *, title: str, **params: Any) -> pn.Card:
    """A collapsed ``pn.Card`` that builds its content the first time it is opened.

    ``build()`` returns the content: one object or a list. A collapsed card's content is
    otherwise made, sent and drawn with the page though no one sees it (the relationship
    map's filters held a list of 5,000 organizations at 100k contacts).
    """
    card = pn.Card(title=title, collapsed=True, **params)

    def fill(_event: Any = None) -> None:
        if not card.collapsed and not card.objects:
            built = build()
            card.objects = list(built) if isinstance(built, list | tuple) else [built]

    card.param.watch(fill, "collapsed")
    return card
