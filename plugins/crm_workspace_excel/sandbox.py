"""Parse untrusted workbooks in a child process, under a memory cap and a clock.

calamine is native code: on a hostile file it can abort the whole process (an
allocation it cannot make is a Rust abort, not an exception) or take minutes and
gigabytes. So the server never runs it itself: each parse is a short-lived
``python -I`` child with ``RLIMIT_AS`` (scaled to the workbook's size), a CPU
limit, no core dumps and a wall-clock timeout. Whatever happens in there
reaches the caller as one :class:`ParseFailed` line.

The child imports only this module, ``extent.py`` and python-calamine (not the
workspace, not this package's ``__init__``), so it starts in about 0.2 s. It sends
the rows back as a pickle on its stdout; the parent reads it with an unpickler
that builds nothing but containers, numbers, text and dates, so even a child
taken over by a malformed file cannot make the parent run code.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

#: Wall-clock and CPU seconds one parse may take.
TIMEOUT_SECONDS = 120
#: Address space of the child: a base for the interpreter and calamine, plus this many bytes per
#: byte of (uncompressed) workbook, capped.
MEMORY_BASE = 512 * 1024 * 1024
MEMORY_PER_BYTE = 12
MEMORY_MAX = 8 * 1024 * 1024 * 1024

_BOOTSTRAP = (
    "import sys, types\n"
    "package = types.ModuleType('crm_workspace_excel')\n"
    "package.__path__ = [sys.argv[1]]\n"
    "sys.modules['crm_workspace_excel'] = package\n"
    "from crm_workspace_excel.sandbox import child_main\n"
    "child_main(sys.argv[2:])\n"
)
_SAFE_GLOBALS = {("datetime", "date"), ("datetime", "datetime"), ("datetime", "time"), ("datetime", "timedelta")}


class ParseFailed(Exception):
    """The child could not parse the file; ``str()`` is one line for the user."""

    def __init__(self, reason: str, kind: str = "crash"):
        super().__init__(reason)
        #: "memory", "timeout", "crash", "refused" (the reader's own verdict), "password",
        #: or the name of calamine's error for a damaged file
        self.kind = kind


def memory_limit(workbook_bytes: int) -> int:
    """The child's address-space cap for a workbook of this many (uncompressed) bytes."""
    return min(MEMORY_MAX, MEMORY_BASE + MEMORY_PER_BYTE * workbook_bytes)


def run(operation: str, path: Path, workbook_bytes: int, *arguments: str) -> Any:
    """Run ``operation`` on ``path`` in a child; its result, or ParseFailed.

    ``run("sheets", ...)``: (name, visible) of the worksheets; ``run("load", ..., mode, *sheets)``:
    (rows, merged ranges) of each sheet (``mode`` as in ``_load``).

    The rows are unpickled while the child is still writing them (the two overlap), and
    its stderr goes to a file, so that neither side waits on a full pipe.
    """
    from crm_workspace.data.collector import held_off  # here, not at the top: the child imports this module alone

    limit = memory_limit(workbook_bytes)
    command = [sys.executable, "-I", "-c", _BOOTSTRAP, str(Path(__file__).parent)]
    command += [operation, str(path), str(limit), json.dumps(list(arguments))]  # sheet names: any text
    env = {**os.environ, "RUST_BACKTRACE": "0"}
    with tempfile.TemporaryFile() as errors:
        child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors, env=env)
        late = threading.Event()
        clock = threading.Timer(TIMEOUT_SECONDS, lambda: (late.set(), child.kill()))
        clock.start()
        try:
            with child.stdout, held_off():  # a sheet unpickles into millions of lasting objects
                try:
                    status, payload = _SafeUnpickler(child.stdout).load()
                except Exception:  # nothing, or not a pickle of rows: the child's exit code says why
                    status, payload = None, None
            code = child.wait()
        finally:
            clock.cancel()
        if late.is_set():
            raise ParseFailed(f"reading it took longer than {TIMEOUT_SECONDS} s", "timeout")
        if status is None or code != 0:
            errors.seek(0)
            raise _crash(code, errors.read()[-20_000:].decode("utf-8", "replace"), limit)
    if status == "ok":
        return payload
    raise ParseFailed(payload, status)


def _crash(code: int, stderr: str, limit: int) -> ParseFailed:
    if "memory allocation" in stderr or "MemoryError" in stderr or "Cannot allocate" in stderr:
        return ParseFailed(
            f"it needs more than {limit / 2**30:.1f} GiB of memory (a sheet claims far more cells than the file holds)",
            "memory",
        )
    if code in (-24, -9):  # SIGXCPU from RLIMIT_CPU, or killed
        return ParseFailed(f"reading it took longer than {TIMEOUT_SECONDS} s", "timeout")
    last = next((line.strip() for line in reversed(stderr.splitlines()) if line.strip()), "")
    return ParseFailed(f"the parser stopped (exit {code}{': ' + last[:160] if last else ''})")


class _SafeUnpickler(pickle.Unpickler):
    """Unpickles rows of plain values and dates; refuses every other class."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _SAFE_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed from the parse child")


# ------------------------------------------------------------------ the child
def child_main(arguments: list[str]) -> None:
    """Entry point of the child: set the limits, run one operation, pickle the result to stdout."""
    import gc
    import resource

    gc.disable()  # a short-lived process whose cells all live until it exits (crm_workspace/data/collector.py)
    operation, path, limit, packed = arguments
    rest = json.loads(packed)
    resource.setrlimit(resource.RLIMIT_AS, (int(limit), int(limit)))
    resource.setrlimit(resource.RLIMIT_CPU, (TIMEOUT_SECONDS, TIMEOUT_SECONDS + 5))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    from .extent import SheetRefused

    try:
        if operation == "sheets":
            result: tuple[str, Any] = ("ok", _sheets(path))
        else:
            mode, *sheets = rest
            result = ("ok", [_load(path, sheet, mode) for sheet in sheets])
    except SheetRefused as error:
        result = ("refused", str(error))
    except MemoryError:
        result = ("memory", "it needs more memory than a file of its size may use")
    except PasswordProtected as error:
        result = ("password", str(error))
    except Exception as error:  # calamine's own errors for damaged files
        result = (type(error).__name__, _first_line(error))
    output = sys.stdout.buffer
    pickle.dump(result, output, protocol=pickle.HIGHEST_PROTOCOL)
    output.flush()


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__


def _sheets(path: str) -> list[tuple[str, bool]]:
    """(name, visible) of every worksheet (charts and macro sheets left out)."""
    import python_calamine as pc

    try:
        workbook = pc.CalamineWorkbook.from_path(path)
    except pc.PasswordError as error:
        raise PasswordProtected(_first_line(error)) from error
    sheets = []
    for meta in workbook.sheets_metadata:
        if str(meta.typ).rsplit(".", 1)[-1] in ("WorkSheet", "Worksheet"):
            sheets.append((meta.name, str(meta.visible).rsplit(".", 1)[-1] == "Visible"))
    return sheets


class PasswordProtected(Exception):
    """calamine says the workbook is encrypted."""


def _load(path: str, sheet: str, mode: str) -> tuple[list[list[Any]], list]:
    """(rows, merged ranges) of one sheet: cell by cell when its grid is far larger than its cells.

    ``mode``: "auto" (scan the extent first), "cells" (cell by cell), "calamine" (no scan).
    """
    import zipfile

    from .extent import SCAN_BYTES, read_cells, scan, sheet_members

    if mode != "calamine" and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            member = sheet_members(archive).get(sheet) if "xl/workbook.xml" in archive.namelist() else None
            if member and member in archive.namelist():
                if mode == "cells":
                    return read_cells(archive, member)
                if archive.getinfo(member).file_size <= SCAN_BYTES:
                    try:
                        extent = scan(archive, member)
                    except (zipfile.BadZipFile, EOFError, ValueError, OSError):
                        extent = None  # damaged: calamine says how
                    if extent is not None and not extent.dense:
                        return read_cells(archive, member)
    import python_calamine as pc

    data_sheet = pc.CalamineWorkbook.from_path(path).get_sheet_by_name(sheet)
    rows = compact_rows(data_sheet.iter_rows(), data_sheet.start[1] if data_sheet.start else 0)
    return rows, list(data_sheet.merged_cell_ranges or [])


def compact_rows(cells: Iterable[list[Any]], first_column: int = 0) -> list[list[Any]]:
    """The sheet's rows, row by row (never two copies of the sheet), each repeated text kept once.

    A CRM export repeats most of its text (companies, stages, owners, countries, titles):
    sharing one string object per distinct value keeps a 300k-row sheet in about half
    the memory (and the pickle back to the parent small). ``first_column`` puts back
    the empty columns left of the used range.
    """
    distinct: dict[str, str] = {}
    keep = distinct.setdefault
    rows = [[keep(v, v) if v.__class__ is str else v for v in row] for row in cells]
    if first_column:
        rows = [[""] * first_column + row for row in rows]
    return rows
