"""Results every session of a server shares until the data changes.

A page's aggregate (the home KPIs, the duplicate search, a pipeline board, a calendar
feed) is the same for every session asking between two commits; computed per visit it
cost seconds at 100k contacts. ``UntilChanged`` keeps the latest value per key and
computes it again once any connection, in any process, has committed
(``Store.data_version()``, asked on the caller's own connection) or the caller's
``stamp`` (the minute or hour, for values that move with the clock) has changed.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


class UntilChanged:
    """The latest value per key, kept until a commit or a new ``stamp``; the ``size`` most recently used keys."""

    def __init__(self, size: int = 64):
        self.size = size
        self._values: OrderedDict[Hashable, tuple[tuple, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, store: Any, key: Hashable, compute: Callable[[], T], *, stamp: Hashable = None) -> T:
        """The value kept for ``key`` if nothing was committed since it was computed, else ``compute()``'s.

        ``store`` is the caller's Store: its connection's data version tells a commit. Each
        connection (each thread: the server's, a route's workers) counts commits its own way,
        so each keeps its own value of a key. Inside a write transaction the version is that
        transaction's: a value computed there is not computed again after its own writes.
        """
        key = (key, store.conn)
        version = (store.data_version(), stamp)
        with self._lock:
            kept = self._values.get(key)
            if kept is not None and kept[0] == version:
                self._values.move_to_end(key)
                return kept[1]
        value = compute()
        with self._lock:
            self._values[key] = (version, value)
            self._values.move_to_end(key)
            while len(self._values) > self.size:
                self._values.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
