"""Libraries an import will need, imported while this process waits for the parse child.

Reading a workbook leaves this process idle for most of a second or more (the
sandboxed child parses it). email-validator, phonenumbers and openpyxl (the
rejects workbook) take ~0.3 s together to import, which an import otherwise
pays later, on its critical path; a thread imports them meanwhile instead.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import threading

#: What an import of a workbook goes on to use: emails, phones, the rejects workbook.
MODULES = ("email_validator", "phonenumbers", "openpyxl")


def warm_up() -> None:
    """Start importing ``MODULES`` on a thread (nothing when they are all loaded already)."""
    missing = [module for module in MODULES if module not in sys.modules]
    if missing:
        threading.Thread(target=_import_all, args=(missing,), name="excel-warm-up", daemon=True).start()


def _import_all(modules: list[str]) -> None:
    for module in modules:
        with contextlib.suppress(Exception):  # a library that cannot load fails later, where it is used
            importlib.import_module(module)
