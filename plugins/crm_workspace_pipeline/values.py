"""Small value rules the pipeline's models and views share: blank text, today, ISO dates, money."""

from __future__ import annotations

from datetime import date
from typing import Any

import param

from crm_workspace.data.store import utcnow


def blank(value: Any) -> bool:
    """None or text with nothing but spaces: a field left empty."""
    return value is None or (isinstance(value, str) and not value.strip())


#: symbols written before the amount ("€57,500"); other codes follow it ("57,500 CHF")
CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "INR": "₹"}

#: the workspace's currency when its ``currency`` setting is not set (the deals' column default)
DEFAULT_CURRENCY = "EUR"


def money(amount: Any, currency: str | None = None) -> str:
    """``57500.0`` as "€57,500": whole units, thousands separated, the currency's symbol; "" for none."""
    if amount is None or amount == "":
        return ""
    code = (currency or DEFAULT_CURRENCY).upper()
    number = f"{abs(float(amount)):,.0f}"
    sign = "-" if float(amount) < 0 and number != "0" else ""
    symbol = CURRENCY_SYMBOLS.get(code)
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{number} {code}"


def day_text(iso: str | None) -> str:
    """An ISO day as people read it on a card: "10 Jan 2030"; text that is no date stays as it is."""
    if blank(iso):
        return ""
    try:
        return date.fromisoformat(str(iso)[:10]).strftime("%-d %b %Y")
    except ValueError:
        return str(iso)


def today_iso() -> str:
    return utcnow()[:10]


def parse_date(text: str | None) -> str | None:
    """``YYYY-MM-DD`` (a longer ISO time is cut to its day), None for blank; ValueError otherwise."""
    if blank(text):
        return None
    return date.fromisoformat(str(text).strip()[:10]).isoformat()


class Day(param.CalendarDate):
    """A calendar date that also takes its ISO text ("2030-02-01"), as notebooks and data views pass it.

    A date picker binds to it directly (``DatePicker.from_param``) and SQL gets ``isoformat()``.
    """

    @param.parameterized.instance_descriptor
    def __set__(self, obj: Any, val: Any) -> None:
        if isinstance(val, str):
            val = None if blank(val) else date.fromisoformat(val.strip()[:10])
        super().__set__(obj, val)
