"""A second core for a big import's dearest cells: phones and emails, normalized by a helper process.

Reading a phone without a country code takes phonenumbers ~60 µs, and a 100k-row
sheet holds tens of thousands of distinct phones and emails. A helper process
converts part of those distinct values while this process converts the rest and
the other columns; ``records.to_rows`` merges the answers in.

The helper is an ordinary child, not the parse sandbox: it reads no file, only the
cell values this process sends it, and runs the very functions this process would
(``normalize.phone``, ``normalize.email``), so the answers are the same. It imports
only ``normalize.py`` and ``crm_workspace/data/fields.py`` (not the workspace), so
it starts in about 0.1 s. Whatever goes wrong with it (no second core, it cannot
start, it dies), ``convert`` raises ``HelperFailed`` and the caller converts here.
"""

from __future__ import annotations

import importlib.util
import os
import pickle
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

#: Kinds the helper converts: pure functions of the cell (and the phone region), dear per value.
KINDS = ("phone", "email")
#: Fewer distinct values of those kinds than this: converting them here is quicker than starting a helper.
MIN_VALUES = 20_000
#: Seconds the answers may take before the helper is given up on (and the values converted here).
TIMEOUT_SECONDS = 60

_BOOTSTRAP = (
    "import sys, types\n"
    "for name, path in zip(('crm_workspace', 'crm_workspace.data', 'crm_workspace_excel'), sys.argv[1:4]):\n"
    "    package = types.ModuleType(name)\n"
    "    package.__path__ = [path]\n"
    "    sys.modules[name] = package\n"
    "from crm_workspace_excel.helper import serve\n"
    "serve()\n"
)


class HelperFailed(Exception):
    """The helper gave no answer: convert the values in this process instead."""


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def wanted(distinct_values: int) -> bool:
    """Whether this many distinct phones and emails are worth a helper on this machine."""
    return distinct_values >= MIN_VALUES and cores() > 1


class Helper:
    """One helper process converting one batch: ``start`` it, do other work, then ``results``."""

    def __init__(self, region: str, tasks: list[tuple[str, list[Any]]]):
        """Start converting ``tasks`` (``(kind, values)``, kind in ``KINDS``) with phones read in ``region``."""
        data = Path(importlib.util.find_spec("crm_workspace.data.fields").origin).parent  # crm_workspace/data
        paths = [data.parent, data, Path(__file__).parent]
        command = [sys.executable, "-I", "-c", _BOOTSTRAP, *map(str, paths)]
        try:
            self.process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
            )
        except OSError as error:
            raise HelperFailed(str(error)) from error
        payload = pickle.dumps((region, tasks), protocol=pickle.HIGHEST_PROTOCOL)
        # written from a thread: the pipe takes a few KiB until the helper has started and reads
        self._writer = threading.Thread(target=self._send, args=(payload,), daemon=True)
        self._writer.start()

    def _send(self, payload: bytes) -> None:
        try:
            with self.process.stdin:
                self.process.stdin.write(payload)
        except OSError:  # it died: ``results`` says so
            pass

    def results(self) -> list[list[Any]]:
        """Each task's converted values in order; a refused value is a 1-tuple of its message."""
        clock = threading.Timer(TIMEOUT_SECONDS, self.process.kill)
        clock.start()
        try:
            with self.process.stdout:
                answers = _Answers(self.process.stdout).load()
            code = self.process.wait()
        except BaseException as error:  # an interrupt too: the helper never outlives the wait
            self.process.kill()
            self.process.wait()
            if not isinstance(error, Exception):
                raise
            raise HelperFailed(f"the helper gave no answer ({error.__class__.__name__})") from error
        finally:
            clock.cancel()
            self._writer.join()
        if code != 0 or not isinstance(answers, list):
            raise HelperFailed(f"the helper stopped (exit {code})")
        return answers

    def stop(self) -> None:
        """Let the helper go without its answers (the caller failed in between)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._writer.join()
        if self.process.stdout:
            self.process.stdout.close()


class _Answers(pickle.Unpickler):
    """The helper answers with text, ``None`` and tuples: nothing else is built."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"{module}.{name} is not expected from the helper")


# ------------------------------------------------------------------ the helper
def serve() -> None:
    """Entry point of the helper: read ``(region, tasks)``, answer each task's converted values."""
    import gc

    from crm_workspace_excel import normalize as nz

    gc.disable()  # a short-lived process: what it builds lives until it answers (crm_workspace/data/collector.py)
    region, tasks = pickle.load(sys.stdin.buffer)
    answers = [convert(kind, values, region, nz) for kind, values in tasks]
    output = sys.stdout.buffer
    pickle.dump(answers, output, protocol=pickle.HIGHEST_PROTOCOL)
    output.flush()


def convert(kind: str, values: list[Any], region: str, nz: Any) -> list[Any]:
    """``values`` normalized as ``kind``; a refused value becomes a 1-tuple of the reason shown for it."""
    fn = nz.email if kind == "email" else (lambda value: nz.phone(value, region))
    answers: list[Any] = []
    add = answers.append
    for value in values:
        try:
            add(fn(value))
        except nz.BadValue as error:
            add((str(error),))
    return answers
