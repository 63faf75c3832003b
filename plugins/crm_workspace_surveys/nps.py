"""The periodic NPS survey: every ``nps_every_days`` days (default 90; 0 turns it off) to customers.

Who: contacts at lifecycle stage ``customer`` with an e-mail address whose marketing consent
is not withdrawn (``marketing_consent`` 1 or never asked). An NPS survey is a relationship
mail to existing customers, not a promotion, so it does not wait for an explicit opt-in (the
"soft opt-in" of existing customers); a withdrawal is always respected, and the admin setting
``nps_require_consent`` narrows it to contacts who gave consent. Every mail has a link to stop
them (``survey_optouts``).

When: periods are counted from 1970-01-01 in steps of N days; the outbox key
``nps:<contact>:<period start>`` makes a tick idempotent (a rerun, two servers, cron and
``crm serve`` together: one mail per contact per period). The row names its contact
(``ref_table``), so the outbox's retention keeps it (without its text) past
``mail_retention_days``: a longer NPS period never surveys a person twice.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from html import escape
from typing import Any

from crm_workspace.services.mailer import mail_from, make_message
from crm_workspace.services.outbox import enqueue_many
from crm_workspace.services.signing import public_url, sign

from .rules import LINK_DAYS, PLUGIN

EPOCH = date(1970, 1, 1)
#: Surveys one tick queues (and so sends): a new period's thousands of customers are surveyed
#: over the next ticks instead of holding the server for minutes (20k customers: ~2 min of CPU).
PER_TICK = 250


def period_start(now: str, every_days: int) -> str:
    """The first day of the NPS period holding ``now`` (ISO date)."""
    day = datetime.fromisoformat(now.replace("Z", "+00:00")).astimezone(UTC).date()
    n = (day - EPOCH).days // every_days
    return (EPOCH + timedelta(days=n * every_days)).isoformat()


def recipients(ws: Any, period: str, limit: int | None = None) -> list[dict]:
    """Customers due for this period's survey: not yet queued, not yet answered (the first ``limit``)."""
    consent = (
        "c.marketing_consent = 1"
        if ws.setting("nps_require_consent", False)
        else "coalesce(c.marketing_consent, 1) = 1"
    )
    return ws.query(
        "SELECT c.id, c.first_name, c.email FROM contacts c"
        f" WHERE c.lifecycle_stage = 'customer' AND c.email IS NOT NULL AND c.email != '' AND {consent}"
        " AND NOT EXISTS (SELECT 1 FROM survey_optouts x WHERE x.contact_id = c.id)"
        " AND NOT EXISTS (SELECT 1 FROM mail_outbox o WHERE o.key = 'nps:' || c.id || ':' || ?)"
        " AND NOT EXISTS (SELECT 1 FROM survey_responses r WHERE r.kind = 'nps' AND r.contact_id = c.id"
        "  AND r.period = ?)"
        " ORDER BY c.id" + (" LIMIT ?" if limit else ""),
        [period, period, *([limit] if limit else [])],
    )


def message_for(ws: Any, contact: dict, period: str):
    token = sign(ws, "nps", {"c": int(contact["id"]), "p": period}, max_age=LINK_DAYS * 86400)
    links = [(n, public_url(ws, f"/s/nps/{token}?score={n}")) for n in range(11)]
    stop = public_url(ws, f"/s/nps/{token}?stop=1")
    name = contact["first_name"] or "there"
    text = (
        f"Hello {name},\n\nhow likely are you to recommend us to a friend or colleague?\n"
        "0 = not at all likely, 10 = extremely likely\n\n"
        + "\n".join(f"{n}: {url}" for n, url in links)
        + f"\n\nOne click, then you may add a comment.\nNo more of these surveys: {stop}\n"
    )
    cells = "".join(f'<a href="{escape(url)}" style="padding:4px 8px">{n}</a>' for n, url in links)
    html = (
        f"<p>Hello {escape(name)},</p><p>How likely are you to recommend us to a friend or colleague?</p>"
        f"<p>{cells}</p><p><small>0 = not at all likely, 10 = extremely likely."
        f' <a href="{escape(stop)}">No more of these surveys</a></small></p>'
    )
    return make_message(
        to=contact["email"], subject="How likely are you to recommend us?", text=text, html=html,
        sender=mail_from(ws), headers={"Auto-Submitted": "auto-generated"},
    )  # fmt: skip


def send_nps(ws: Any, now: str, *, dry_run: bool = False, limit: int | None = None) -> list[dict]:
    """Queue this period's NPS survey for every due customer (the first ``limit``); the contacts
    (queued, or due with ``dry_run``). The tick queues ``PER_TICK`` at a time: the rest follow."""
    every = int(ws.setting("nps_every_days", 90) or 0)
    if every <= 0:
        return []
    period = period_start(now, every)
    due = recipients(ws, period, limit)
    if dry_run or not due:
        return due
    enqueue_many(
        ws,
        (
            {"message": message_for(ws, c, period), "key": f"nps:{c['id']}:{period}", "plugin": PLUGIN,
             "contact_id": int(c["id"]), "ref_table": "contacts", "ref_id": int(c["id"])}
            for c in due
        ),
    )  # fmt: skip
    return due
