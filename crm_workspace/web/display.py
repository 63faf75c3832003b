"""How screens show stored values to people: times, dates, money, names and small HTML tables.

The store keeps ISO-8601 text, whole numbers as floats and column names; a screen shows
"3 days ago" (the exact time on hover), "30 Nov 2026", "€57,500" and "First name". Every function
here escapes what it returns as HTML (``*_html`` and ``html_table``) or returns plain text for a
widget to escape. Standard library only: a plugin's model code and the CLI may use it too.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

E = html.escape

#: an ISO date-time as the store writes it (``2026-11-30T07:12:03Z``), anywhere in a text
ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d)?")
_ISO_DAY = re.compile(r"\d{4}-\d\d-\d\d")

#: symbols written before the amount ("€57,500"); other codes follow it ("57,500 CHF")
CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "INR": "₹"}
DEFAULT_CURRENCY = "EUR"

#: ago()'s steps: from a month on a date says more than "7 weeks ago"
_STEPS = ((86400 * 30, None), (86400, "day"), (3600, "hour"), (60, "minute"))


def _missing(value: Any) -> bool:
    """None, "", or a missing value of a pandas frame (NaN, NaT: the values unequal to themselves)."""
    return (
        value is None
        or (isinstance(value, str) and value == "")
        or (isinstance(value, float | date) and value != value)
    )


def moment(value: Any) -> datetime | None:
    """An ISO date-time (text or ``datetime``) as an aware datetime (UTC when it names no zone), else None."""
    if _missing(value):
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and ISO_TIME.fullmatch(value.strip()):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def is_day(value: Any) -> bool:
    """Whether a value is a date alone (``2026-11-30`` or a ``date``)."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return True
    return isinstance(value, str) and bool(_ISO_DAY.fullmatch(value.strip()))


def day(value: Any) -> str:
    """A date (or the day of a date-time) as people read it: "30 Nov 2026"; other text as given, None as ""."""
    if _missing(value):
        return ""
    if isinstance(value, date):
        return value.strftime("%-d %b %Y")
    try:
        return date.fromisoformat(str(value).strip()[:10]).strftime("%-d %b %Y")
    except ValueError:
        return str(value)


def ago(iso: Any, now: datetime | None = None) -> str:
    """A time as people say it: "just now", "5 minutes ago", "3 days ago", "in 2 days"; a month or more
    away, its date ("1 Jun 2029"); a date alone, its date. None is "", text that is no time stays as it is."""
    if _missing(iso):
        return ""
    if is_day(iso):
        return day(iso)
    when = moment(iso)
    if when is None:
        return str(iso)
    now = now or datetime.now(UTC)
    if now.tzinfo is None:  # a naive "now" is UTC, like a stored time without a zone
        now = now.replace(tzinfo=UTC)
    seconds = (now - when).total_seconds()
    future, seconds = seconds < 0, abs(seconds)
    for size, unit in _STEPS:
        if seconds >= size:
            if unit is None:
                return day(when)
            count = int(seconds // size)
            text = f"{count} {unit}{'s' if count != 1 else ''}"
            return f"in {text}" if future else f"{text} ago"
    return "just now"


def exact(iso: Any) -> str:
    """The exact time for a hover: "30 Nov 2026 07:12 UTC" (a date alone: "Mon 30 Nov 2026")."""
    if _missing(iso):
        return ""
    if is_day(iso):
        return day(iso) if isinstance(iso, date) else _weekday(str(iso))
    when = moment(iso)
    if when is None:
        return str(iso)
    zone = " UTC" if when.utcoffset() == UTC.utcoffset(None) else when.strftime(" %z")
    return when.strftime("%-d %b %Y %H:%M") + zone


def _weekday(text: str) -> str:
    try:
        return date.fromisoformat(text.strip()).strftime("%a %-d %b %Y")
    except ValueError:
        return text


def when_html(iso: Any, now: datetime | None = None) -> str:
    """A time as ``<time>`` showing "3 days ago" with the exact time on hover, escaped; "" for None."""
    if _missing(iso):
        return ""
    if not (is_day(iso) or moment(iso)):
        return E(str(iso))
    machine = iso.isoformat() if isinstance(iso, date) else str(iso)
    return f"<time class='crm-when' datetime='{E(machine)}' title='{E(exact(iso))}'>{E(ago(iso, now))}</time>"


def times_html(text: Any, now: datetime | None = None) -> str:
    """Free text escaped, each ISO date-time in it (an edit's "old → new") as ``when_html``."""
    text = "" if text is None else str(text)
    out, last = [], 0
    for match in ISO_TIME.finditer(text):
        out += [E(text[last : match.start()]), when_html(match.group(), now)]
        last = match.end()
    return "".join(out) + E(text[last:])


def times_text(text: Any, now: datetime | None = None) -> str:
    """Plain text with each ISO date-time in it said as ``ago`` ("disabled 2 days ago"), for a widget or an
    alert that escapes on its own."""
    text = "" if text is None else str(text)
    return ISO_TIME.sub(lambda match: ago(match.group(), now), text)


def money(amount: Any, currency: str | None = None) -> str:
    """``57500.0`` as "€57,500": whole units, thousands separated, the currency's symbol (else its code after
    the number, "57,500 CHF"); "" for None. ``currency`` None is the default currency (EUR)."""
    if _missing(amount):
        return ""
    try:
        value = float(amount)
    except (TypeError, ValueError):
        return str(amount)
    code = (currency or DEFAULT_CURRENCY).upper()
    number = f"{abs(value):,.0f}"
    sign = "-" if value < 0 and number != "0" else ""
    symbol = CURRENCY_SYMBOLS.get(code)
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{number} {code}"


#: words label() writes in capitals wherever they stand ("nps_score" -> "NPS score", "contact_id" -> "Contact ID")
ACRONYMS = frozenset(
    {"api", "auc", "csat", "csv", "html", "id", "imap", "ip", "kpi", "nps", "sla", "smtp", "url", "utc"}
)
_WORD = re.compile(r"[A-Za-z0-9]+")


def label(name: Any) -> str:
    """A column or a stored word as people write it: "first_name" -> "First name",
    "marketing_qualified" -> "Marketing qualified", "nps_score" -> "NPS score" (``ACRONYMS``);
    None and a DataFrame's missing value (NaN) are ""."""
    if name is None or (isinstance(name, float) and name != name):
        return ""
    text = str(name).replace("_", " ").strip()
    text = _WORD.sub(lambda m: m.group().upper() if m.group().lower() in ACRONYMS else m.group(), text)
    return text[:1].upper() + text[1:]


def number(value: Any) -> str:
    """A number as people read it: "57,500", "0.08", "12"; anything else as text."""
    if _missing(value):
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}"


def cell_html(value: Any) -> str:
    """One table cell: None empty, a time "3 days ago" (exact on hover), a date "30 Nov 2026", a float
    "57,500", anything else its text with any time inside humanised; always escaped."""
    if _missing(value):
        return ""
    if isinstance(value, datetime | date) or (isinstance(value, str) and (is_day(value) or moment(value))):
        return when_html(value)
    if isinstance(value, float):
        return E(number(value))
    return times_html(value)


Columns = Mapping[str, str] | Iterable[tuple[str, str]] | Iterable[str]


def _labelled(columns: Columns) -> list[tuple[str, str]]:
    if isinstance(columns, Mapping):
        return [(str(k), str(v)) for k, v in columns.items()]
    return [(c, label(c)) if isinstance(c, str) else (str(c[0]), str(c[1])) for c in columns]


_CELL = "text-align:left;padding:2px 8px;vertical-align:top"


def html_table(
    rows: Iterable[Mapping[str, Any]],
    columns: Columns,
    *,
    empty: str = "None yet.",
    css: str = "",
    cell_class: str = "",
) -> str:
    """Rows as an HTML table, every header and cell escaped and each value shown by ``cell_html``.

    ``columns`` is ``{column: header}``, ``[(column, header), ...]`` or ``[column, ...]`` (headers then read
    "First name"); a cell ``html_table`` should not format, put it in the row ready as text. No rows: ``empty``
    as a grey line. ``css`` adds classes to the table, ``cell_class`` a class to each cell, its prefix and the
    column ("auto-" -> ``<td class="auto-name">``), for a test or a stylesheet to find them.
    """
    pairs = _labelled(columns)
    rows = list(rows)
    if not rows:
        return f"<p class='crm-empty' style='color:#5f6b7a;font-size:13px;margin:4px 0'>{E(empty)}</p>"
    head = "".join(f"<th style='{_CELL}'>{E(title)}</th>" for _, title in pairs)
    body = "".join(
        "<tr>"
        + "".join(f"<td{_class(cell_class, key)} style='{_CELL}'>{cell_html(row.get(key))}</td>" for key, _ in pairs)
        + "</tr>"
        for row in rows
    )
    classes = f"crm-table {css}".strip()
    return (
        f"<table class='{E(classes)}' style='border-collapse:collapse;font-size:13px'>"
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def _class(prefix: str, column: str) -> str:
    return f" class='{E(prefix + column)}'" if prefix else ""


#: the stylesheet of ``bars_html``: pass it to the pane showing the chart (``stylesheets=[BARS_CSS]``)
BARS_CSS = """
.crm-bars-title {font-weight: 600; font-size: 13px; color: #1f2d3d; margin: 4px 0 8px;}
.crm-bars {display: flex; align-items: flex-end; gap: 4px; height: 190px; border-bottom: 1px solid #c7ced6;}
.crm-bar {flex: 1 1 0; min-width: 16px; display: flex; flex-direction: column; align-items: center;
  justify-content: flex-end; height: 100%;}
.crm-bar-fill {width: 80%; background: #08519c; border-radius: 2px 2px 0 0;}
.crm-bar-n {font-size: 11px; color: #5f6b7a;}
.crm-bars-axis {display: flex; gap: 4px; font-size: 11px; color: #5f6b7a;}
.crm-bars-axis span {flex: 1 1 0; min-width: 16px; text-align: center;}
.crm-bars-caption {font-size: 12px; color: #5f6b7a; text-align: center; margin-top: 2px;}
"""

_COLOR = re.compile(r"#[0-9a-fA-F]{3,8}")


def bars_html(bars: list[tuple[Any, int, str | None]], *, title: str, caption: str = "", unit: str = "") -> str:
    """A small bar chart as HTML: ``(label, count, colour or None)`` a bar, each count above its bar
    and on hover ("9: 12 answers"). Cheaper for a page's first screen than a plotting library's
    figure (~30 Bokeh models for seven bars)."""
    if not bars:
        return f'<div class="crm-bars-title">{E(title)}</div><p>Nothing yet.</p>'
    top = max(count for _label, count, _colour in bars) or 1
    drawn = []
    for name, count, colour in bars:
        fill = f"background:{colour};" if colour and _COLOR.fullmatch(colour) else ""
        drawn.append(
            f'<div class="crm-bar" title="{E(str(name))}: {count:,}{E(" " + unit if unit else "")}">'
            f'<span class="crm-bar-n">{count:,}</span>'
            f'<div class="crm-bar-fill" style="{fill}height:{round(160 * count / top)}px"></div></div>'
        )
    axis = "".join(f"<span>{E(str(name))}</span>" for name, _count, _colour in bars)
    tail = f'<div class="crm-bars-caption">{E(caption)}</div>' if caption else ""
    return (
        f'<div class="crm-bars-title">{E(title)}</div>'
        f'<div class="crm-bars">{"".join(drawn)}</div><div class="crm-bars-axis">{axis}</div>{tail}'
    )
