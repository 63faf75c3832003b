"""The webhook settings this plugin declares (``crm_settings``), their checks and defaults."""

from __future__ import annotations

from typing import Any

from crm_workspace import Setting
from crm_workspace.data.retention import check_days

DEFAULT_BACKOFF = (60, 300, 1800, 7200, 43200)  # 1 min, 5 min, 30 min, 2 h, 12 h
DEFAULT_MAX_FAILURES = 10
DEFAULT_TIMEOUT = 5.0


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "on", "false", "0", "no", "off"):
        return value.strip().lower() in ("true", "1", "yes", "on")
    if value in (0, 1):
        return bool(value)
    raise ValueError(f"must be true or false, not {value!r}")


def _backoff(value: Any) -> list[int]:
    if isinstance(value, str):
        value = [v for v in value.replace(",", " ").split() if v]
    if not isinstance(value, list | tuple) or not value:
        raise ValueError("must be a list of seconds to wait before each retry, e.g. [60, 300, 1800]")
    try:
        seconds = [int(v) for v in value]
    except (TypeError, ValueError) as error:
        raise ValueError(f"every wait must be whole seconds, not {value!r}") from error
    if any(s < 0 or s > 7 * 86400 for s in seconds) or len(seconds) > 20:
        raise ValueError("at most 20 waits, each from 0 seconds to 7 days")
    return seconds


def _max_failures(value: Any) -> int:
    if isinstance(value, bool) or int(value) != value or not 1 <= int(value) <= 1000:
        raise ValueError(f"must be a whole number from 1 to 1000, not {value!r}")
    return int(value)


def _timeout(value: Any) -> float:
    if isinstance(value, bool) or not 0.1 <= float(value) <= 30:
        raise ValueError(f"must be seconds from 0.1 to 30, not {value!r}")
    return float(value)


SETTINGS = [
    Setting(
        "webhooks_allow_private",
        _flag,
        False,
        doc="Allow webhook receivers on loopback, link-local and private addresses (off: refused).",
    ),
    Setting("webhooks_backoff", _backoff, list(DEFAULT_BACKOFF), doc="Seconds to wait before each webhook retry."),
    Setting(
        "webhooks_max_failures",
        _max_failures,
        DEFAULT_MAX_FAILURES,
        doc="Failed webhook attempts in a row after which a subscription is disabled.",
    ),
    Setting("webhooks_timeout", _timeout, DEFAULT_TIMEOUT, doc="Seconds a webhook receiver has to answer."),
    Setting(
        "webhooks_retention_days",
        check_days,
        30,
        doc="Days delivered and failed webhook deliveries stay in the log (0: forever).",
    ),
    Setting(
        "rules_retention_days",
        check_days,
        90,
        doc="Days workflow rule runs stay in the log; each record's latest run per rule stays (0: forever).",
    ),
]


def allow_private(ws) -> bool:
    return bool(ws.setting("webhooks_allow_private", False))


def backoff(ws) -> list[int]:
    return list(ws.setting("webhooks_backoff", list(DEFAULT_BACKOFF)) or DEFAULT_BACKOFF)


def max_failures(ws) -> int:
    return int(ws.setting("webhooks_max_failures", DEFAULT_MAX_FAILURES) or DEFAULT_MAX_FAILURES)


def timeout(ws) -> float:
    return float(ws.setting("webhooks_timeout", DEFAULT_TIMEOUT) or DEFAULT_TIMEOUT)
