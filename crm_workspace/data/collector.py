"""The cyclic garbage collector held off while a bulk step builds objects that all live on.

An import makes millions of objects that live until it ends (the sheet's cells, a
record per row, the write's changes), the relationship map a graph of every contact;
neither makes cycles worth finding while it runs. Python's collector counts them all:
every 700 allocations it visits the youngest, and each time the survivors grow by a
quarter it walks everything alive. Measured on the 100k-row benchmark import, those
full passes took ~0.7 s of a ~12 s import (7 of them, each over more objects than the
last); building the map's graph of 100k contacts, 1.0-1.7 s of 2.4-3.0 s. Held off,
the same objects are freed by reference counting as they always are.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_holders = 0
_was_enabled = False


@contextlib.contextmanager
def held_off() -> Iterator[None]:
    """Collection paused inside (nested and concurrent uses too); back as it was when the last one leaves."""
    global _holders, _was_enabled
    with _lock:
        if _holders == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _was_enabled:
                if gc.get_freeze_count() == 0:  # (objects frozen by the application stay frozen)
                    # what was made meanwhile is all "young": the first pass after enable() would walk
                    # it (~0.07 s a phase at 100k rows). Moved to the oldest generation instead, it is
                    # looked at in the next full pass, by when most of it was freed.
                    gc.freeze()
                    gc.unfreeze()
                gc.enable()
