"""The mail settings the core declares (``crm_settings`` in crm_workspace/core_rules.py).

Read by ``crm_workspace.services.mailer.Mailer.from_workspace`` and the outbox.
The SMTP password is never a setting: it comes from the environment variable
``CRM_SMTP_PASSWORD`` only, so it is neither in the database nor in its backups.
"""

from __future__ import annotations

from email.utils import parseaddr
from typing import Any

from crm_workspace.data.retention import check_days
from crm_workspace.types import Setting

SECURITY_MODES = ("none", "starttls", "ssl")


def _host(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value.strip()):
        raise ValueError(f"must be a host name such as smtp.example.com, not {value!r}")
    return value.strip()


def _port(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip().isdigit():
        raise ValueError(f"must be a port number (25, 465, 587 ...), not {value!r}")
    port = int(value)
    if not 0 < port < 65536:
        raise ValueError(f"must be a port number between 1 and 65535, not {port}")
    return port


def _security(value: Any) -> str:
    mode = value.strip().lower() if isinstance(value, str) else value
    if mode not in SECURITY_MODES:
        raise ValueError(f"must be one of {', '.join(SECURITY_MODES)}, not {value!r}")
    return mode


def _user(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"must be a user name (text), not {value!r}")
    return value.strip()


def _address(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be an email address such as crm@example.com, not {value!r}")
    _name, address = parseaddr(value.strip())
    local, _, domain = address.rpartition("@")
    if not local or not domain or any(c.isspace() for c in address):
        raise ValueError(f"must be an email address such as 'CRM <crm@example.com>', not {value!r}")
    return value.strip()


def _per_minute(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"must be a whole number of messages per minute (0: no limit), not {value!r}")
    return value


#: Days a finished message keeps its place in the outbox (crm_workspace/services/outbox.py ``prune``).
DEFAULT_MAIL_RETENTION_DAYS = 90

SETTINGS = (
    Setting("smtp_host", _host, "localhost", doc="The SMTP server mail is sent through."),
    Setting("smtp_port", _port, 25, doc="The SMTP server's port (25, 587 with starttls, 465 with ssl)."),
    Setting(
        "smtp_security",
        _security,
        "none",
        doc="How the SMTP connection is protected: none, starttls or ssl.",
    ),
    Setting(
        "smtp_user",
        _user,
        "",
        doc="The SMTP login (empty: no login); the password comes from $CRM_SMTP_PASSWORD only.",
    ),
    Setting("mail_from", _address, "crm@localhost", doc="The sender of the workspace's mail ('Name <address>')."),
    Setting(
        "mail_per_minute",
        _per_minute,
        0,
        doc="At most this many messages a minute leave the outbox (0: no limit).",
    ),
    Setting(
        "mail_retention_days",
        check_days,
        DEFAULT_MAIL_RETENTION_DAYS,
        doc="Days sent and failed mail stays in the outbox (0: forever): older messages are removed,"
        " or keep only their ledger row when a record counts them (a campaign, a ticket reply).",
    ),
)
