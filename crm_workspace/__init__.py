"""crm-workspace: a CRM that lives inside your Python data workspace."""

import sys as _sys


def _import_sqlite_utils_without_pandas() -> None:
    """Load sqlite-utils without letting it import pandas and numpy.

    sqlite-utils imports them when installed only to convert their values on
    insert, which the Store never asks of it (it writes with sqlite3 itself);
    hiding them while it loads keeps `crm --help` under a second. pandas is still
    imported, lazily, by ``Workspace.df``.
    """
    if "sqlite_utils" in _sys.modules or "pandas" in _sys.modules:
        return
    blocked = [name for name in ("pandas", "numpy") if name not in _sys.modules]
    for name in blocked:
        _sys.modules[name] = None  # type: ignore[assignment]
    try:
        import sqlite_utils  # noqa: F401
    finally:
        for name in blocked:
            del _sys.modules[name]


_import_sqlite_utils_without_pandas()

from crm_workspace.errors import ConflictError, CrmError, NotFound, PermissionDenied, PluginError, ValidationError  # noqa: E402
from crm_workspace.hookspecs import hookimpl  # noqa: E402
from crm_workspace.types import ApiResource, Change, Metric, Page, PersonalData, RecordSection, Route, Setting  # noqa: E402
from crm_workspace.workspace import Workspace  # noqa: E402

__all__ = [
    "ApiResource",
    "Change",
    "ConflictError",
    "CrmError",
    "Metric",
    "NotFound",
    "Page",
    "PermissionDenied",
    "PersonalData",
    "PluginError",
    "RecordSection",
    "Route",
    "Setting",
    "ValidationError",
    "Workspace",
    "hookimpl",
]
__version__ = "0.1.0"


def _web_ui():
    """The web shell draws a workspace's pages; imported only when a page is wanted (Panel is slow to load)."""
    from crm_workspace.web import app

    return app


Workspace.ui_backend = _web_ui  # the facade hands the core its UI: the core imports no shell
