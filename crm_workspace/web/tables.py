"""The app's tables: Panel's Tabulator, drawing the rows in view rather than two screenfuls."""

from __future__ import annotations

from typing import Any

import panel as pn

#: Pixels of rows a table of fixed height draws beyond those in view, the others drawn as they scroll
#: into view; Tabulator raises it to twice a row's height by itself, and draws at least 20 rows. Its default,
#: the table's own height, drew a second screenful, and each row is drawn three times while a page loads
#: (built, then redrawn by Panel after the layout and after the styles): on Contacts 0.6 s of the page's
#: 0.8 s in Tabulator (Chromium's profiler), 0.28 s with this.
ROWS_BUFFER_PX = 1


class Table(pn.widgets.Tabulator):
    """``pn.widgets.Tabulator`` as the app's pages use it: a table of fixed height draws the rows
    in view (``ROWS_BUFFER_PX``). A ``configuration`` given keeps its own settings."""

    def __init__(self, value: Any = None, **params: Any):
        configuration = {"renderVerticalBuffer": ROWS_BUFFER_PX, **params.pop("configuration", {})}
        super().__init__(value, configuration=configuration, **params)
