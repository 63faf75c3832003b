"""One progress line for every long step of the command line (read, plan, write, undo, demo).

On a terminal the line shows from the first moment, so a long step is never
silent: the step's name and elapsed time while nothing can be counted, then the
count, the rate and the time left once the step reports how far it is. When
stderr is not a terminal (a pipe, a log file, a test) nothing is printed.
"""

from __future__ import annotations

import sys
import threading
import time
from types import TracebackType
from typing import IO

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
REDRAW_S = 0.2


def _duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class Progress:
    """A step's progress on stderr, redrawn by a background thread while the step runs.

    Use as a context manager; call ``update(done, total)`` as the step advances
    (it has the signature of the ``progress`` callbacks the services take).
    """

    def __init__(
        self,
        label: str,
        total: int | None = None,
        *,
        unit: str = "rows",
        enabled: bool | None = None,
        stream: IO[str] | None = None,
    ):
        self.label = label
        self.total = total
        self.done: int | None = None
        self.unit = unit
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._frame = 0

    # ------------------------------------------------------------ progress
    def update(self, done: int, total: int | None = None) -> None:
        """How far the step is: ``done`` of ``total`` units."""
        self.done = done
        if total is not None:
            self.total = total

    def relabel(self, label: str) -> None:
        """Name the part of the step now running (the demo's tables, for example)."""
        self.label = label

    def line(self, now: float | None = None) -> str:
        """The text of the progress line at ``now``."""
        elapsed = (now if now is not None else time.monotonic()) - self._started
        if self.done is None:
            return f"{self.label} {SPINNER[self._frame % len(SPINNER)]} {elapsed:.1f} s"
        parts = [f"{self.label}  {self.done:,}"]
        if self.total:
            parts[0] += f"/{self.total:,} {self.unit} {100 * self.done / self.total:3.0f}%"
        else:
            parts[0] += f" {self.unit}"
        rate = self.done / elapsed if elapsed > 0 else 0
        if rate:
            parts.append(f"{rate:,.0f} {self.unit}/s")
            if self.total and self.done < self.total:
                parts.append(f"ETA {_duration((self.total - self.done) / rate)}")
        parts.append(f"{elapsed:.1f} s")
        return "  ".join(parts)

    # --------------------------------------------------------------- drawing
    def _draw(self, final: bool = False) -> None:
        with self._lock:
            self._frame += 1
            self.stream.write("\r" + self.line() + "\x1b[K" + ("\n" if final else ""))
            self.stream.flush()

    def _run(self) -> None:
        while not self._stop.wait(REDRAW_S):
            self._draw()

    def __enter__(self) -> Progress:
        self._started = time.monotonic()
        if self.enabled:
            self._draw()
            self._thread = threading.Thread(target=self._run, name="crm-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
            if kind is None and self.total is not None:
                self.done = self.total
            self._draw(final=True)


def progress(label: str, total: int | None = None, *, unit: str = "rows") -> Progress:
    """The progress line of one long step (quiet unless stderr is a terminal)."""
    return Progress(label, total, unit=unit)
