"""Small value rules the pipeline's models and views share: blank text, today, ISO dates (money: the core's)."""

from __future__ import annotations

from datetime import date
from typing import Any

import param

from crm_workspace.data.store import utcnow
from crm_workspace.web.display import DEFAULT_CURRENCY as DEFAULT_CURRENCY  # re-exported: the core's
from crm_workspace.web.display import day
from crm_workspace.web.display import money as money  # re-exported: the core's


def blank(value: Any) -> bool:
    """None or text with nothing but spaces: a field left empty."""
    return value is None or (isinstance(value, str) and not value.strip())


def day_text(iso: str | None) -> str:
    """An ISO day as people read it on a card: "10 Jan 2030"; text that is no date stays as it is."""
    return "" if blank(iso) else day(iso)


def today_iso() -> str:
    return utcnow()[:10]


class Day(param.CalendarDate):
    """A calendar date that also takes its ISO text ("2030-02-01"), as notebooks and data views pass it.

    A date picker binds to it directly (``DatePicker.from_param``) and SQL gets ``isoformat()``.
    """

    @param.parameterized.instance_descriptor
    def __set__(self, obj: Any, val: Any) -> None:
        if isinstance(val, str):
            val = None if blank(val) else date.fromisoformat(val.strip()[:10])
        super().__set__(obj, val)
