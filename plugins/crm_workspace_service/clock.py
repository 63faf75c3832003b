"""The service module's "now": the real time, or a test clock.

``CRM_NOW`` holds an ISO time, or ``file:/path`` naming a file that holds one (read at each
call, so a test moves the clock of a running server by rewriting the file). Tests in-process
call ``set_now``. Everything that asks "is this ticket breached yet?" reads the time here.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

_fixed: datetime | None = None


def set_now(moment: datetime | str | None) -> None:
    """Fix the clock (None: the real time again)."""
    global _fixed
    _fixed = _parse(moment) if moment is not None else None


def _parse(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def now() -> datetime:
    if _fixed is not None:
        return _fixed
    spec = os.environ.get("CRM_NOW", "").strip()
    if spec.startswith("file:"):
        try:
            spec = Path(spec[5:]).read_text().strip()
        except OSError:
            spec = ""
    if spec:
        return _parse(spec)
    return datetime.now(UTC).replace(microsecond=0)


def now_iso() -> str:
    return now().strftime("%Y-%m-%dT%H:%M:%SZ")
