"""crm-workspace: a CRM that lives inside your Python data workspace."""

from .errors import ConflictError, CrmError, NotFound, PermissionDenied, PluginError, ValidationError
from .hookspecs import hookimpl
from .types import Change, Metric, Page, RecordSection
from .workspace import Workspace

__all__ = [
    "Change",
    "ConflictError",
    "CrmError",
    "Metric",
    "NotFound",
    "Page",
    "PermissionDenied",
    "PluginError",
    "RecordSection",
    "ValidationError",
    "Workspace",
    "hookimpl",
]
__version__ = "0.1.0"
