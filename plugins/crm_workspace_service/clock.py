"""The service module's "now": the real time, or a test clock.

``$CRM_NOW`` holds an ISO time (the core scheduler honours it too); ``$CRM_NOW_FILE`` names a
file holding one, read at each call, so a test moves the clock of a running server by
rewriting the file. Tests in-process call ``set_now``. Everything that asks "is this ticket
breached yet?" reads the time here.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

_fixed: datetime | None = None


def set_now(moment: datetime | str | None) -> None:
    """Fix the clock (None: the real time again)."""
    global _fixed
    _fixed = parse(moment) if moment is not None else None


def parse(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def now() -> datetime:
    if _fixed is not None:
        return _fixed
    spec = ""
    if path := os.environ.get("CRM_NOW_FILE", "").strip():
        try:
            spec = Path(path).read_text().strip()
        except OSError:
            spec = ""
    spec = spec or os.environ.get("CRM_NOW", "").strip()
    if spec:
        try:
            return parse(spec)
        except ValueError:
            pass  # not a time: the real clock (the core refuses such a $CRM_NOW with a clear message)
    return datetime.now(UTC).replace(microsecond=0)


def now_iso() -> str:
    return now().strftime("%Y-%m-%dT%H:%M:%SZ")
