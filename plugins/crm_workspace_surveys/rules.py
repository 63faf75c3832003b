"""Sending the surveys and recording their answers (no Panel, no HTTP).

CSAT: a ticket whose status becomes ``solved`` queues one e-mail to its requester (outbox key
``csat:<ticket>``, so solving it again sends nothing more) with two signed links, Good and Bad
(Zendesk's two-point scale: one honest click, a clear percentage). NPS: ``nps.py``.

Links carry a token signed for purpose ``csat`` or ``nps`` (ids only) and the score in
the query; the landing page shows the choice and records it only on POST (see routes.py).
An answer is stored once per ticket (CSAT) or per contact and period (NPS) and may be
changed for ``CHANGE_DAYS`` days; each answer is an activity on the contact's timeline;
a low score opens a churn-risk flag.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from crm_workspace.data.store import utcnow
from crm_workspace.errors import CrmError, NotFound
from crm_workspace.services.mailer import mail_from, make_message
from crm_workspace.services.outbox import enqueue
from crm_workspace.services.signing import public_url, sign

PLUGIN = "surveys"
CHANGE_DAYS = 7
#: How long a survey link works.
LINK_DAYS = 30
CSAT_LABELS = {1: "Good", 0: "Bad"}
#: The contact tag that mirrors an open churn-risk flag.
CHURN_TAG = "churn-risk"


def table_exists(ws: Any, name: str) -> bool:
    return bool(ws.store.scalar("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [name]))


def is_low(kind: str, score: int) -> bool:
    """A score that flags churn risk: CSAT bad, NPS detractor (0–6)."""
    return score == 0 if kind == "csat" else score <= 6


# --------------------------------------------------------------------- sending
def sender(ws: Any) -> str:
    """The support address (the service plugin's setting ``service_address``, read by name), else ``mail_from``.

    A requester who answers the survey by replying reaches the help desk, not a no-reply box.
    """
    return ws.setting("service_address") or mail_from(ws)


def solved_tickets(changes) -> list[dict]:
    """The tickets these changes made ``solved`` (inserted solved, or moved to solved)."""
    return [
        c.after
        for c in changes
        if c.table == "tickets"
        and c.after
        and c.after.get("status") == "solved"
        and (c.before or {}).get("status") != "solved"
    ]


def queue_csat(ws: Any, ticket: dict) -> int | None:
    """Queue the CSAT e-mail for a solved ``ticket`` (once per ticket); None when it cannot go."""
    if not ws.setting("csat_enabled", True) or not ticket.get("requester_id"):
        return None
    rows = ws.query("SELECT id, first_name, email FROM contacts WHERE id = ?", [ticket["requester_id"]])
    if not rows or not rows[0]["email"]:
        return None
    contact = rows[0]
    token = sign(ws, "csat", {"t": int(ticket["id"]), "c": int(contact["id"])}, max_age=LINK_DAYS * 86400)
    good, bad = (public_url(ws, f"/s/csat/{token}?score={s}") for s in (1, 0))
    subject = f"How did we do? [#{ticket['id']}] {ticket.get('subject') or ''}".strip()
    name = contact["first_name"] or "there"
    text = (
        f'Hello {name},\n\nyour request #{ticket["id"]} "{ticket.get("subject") or ""}" was solved.\n'
        f"How would you rate the support you received?\n\nGood: {good}\nBad: {bad}\n\n"
        "One click, then you may add a comment. Thank you!\n"
    )
    from html import escape

    html = (
        f"<p>Hello {escape(name)},</p><p>your request #{int(ticket['id'])} “{escape(ticket.get('subject') or '')}”"
        " was solved. How would you rate the support you received?</p>"
        f'<p><a href="{escape(good)}">😊 Good, I\'m satisfied</a> &nbsp; '
        f'<a href="{escape(bad)}">🙁 Bad, I\'m unsatisfied</a></p>'
    )
    message = make_message(
        to=contact["email"], subject=subject, text=text, html=html, sender=sender(ws),
        headers={"Auto-Submitted": "auto-generated"},
    )  # fmt: skip
    return enqueue(
        ws, message, key=f"csat:{ticket['id']}", plugin=PLUGIN, ref_table="tickets", ref_id=int(ticket["id"]),
        contact_id=int(contact["id"]),
    )  # fmt: skip


# ------------------------------------------------------------------- answering
def ticket_of(ws: Any, ticket_id: int) -> dict:
    if not table_exists(ws, "tickets"):
        return {"id": ticket_id}
    rows = ws.query("SELECT id, subject, assignee, team, requester_id FROM tickets WHERE id = ?", [ticket_id])
    if not rows:
        raise NotFound("This ticket no longer exists.")
    return rows[0]


def existing(ws: Any, kind: str, *, ticket_id=None, contact_id=None, period=None) -> dict | None:
    if kind == "csat":
        rows = ws.query("SELECT * FROM survey_responses WHERE kind = 'csat' AND ticket_id = ?", [ticket_id])
    else:
        rows = ws.query(
            "SELECT * FROM survey_responses WHERE kind = 'nps' AND contact_id = ? AND period = ?", [contact_id, period]
        )
    return rows[0] if rows else None


def record(
    ws: Any, kind: str, contact_id: int, score: int, comment: str = "", *, ticket_id=None, period=None, now=None
) -> dict:
    """Store an answer (or change it within ``CHANGE_DAYS``), put it on the timeline, flag or unflag churn risk.

    ``ws`` acts as ``system:surveys`` when a verified link answers. Raises ``CrmError`` when the
    answer may no longer be changed; a bad score is a ``ValidationError`` (nothing written).
    """
    now = now or utcnow()
    comment = (comment or "").strip()[:2000]
    before = existing(ws, kind, ticket_id=ticket_id, contact_id=contact_id, period=period)
    if before and _age_days(before["responded_at"], now) > CHANGE_DAYS:
        raise CrmError(f"This answer was given more than {CHANGE_DAYS} days ago and can no longer be changed.")
    with ws.store.transaction():
        values = {"score": score, "comment": comment or None, "responded_at": now}
        if before:
            row = ws.store.update("survey_responses", before["id"], values)
        else:
            values.update(kind=kind, contact_id=contact_id, ticket_id=ticket_id, period=period)
            row = ws.store.insert("survey_responses", values)
        activity = _activity(ws, row, now)
        if not row.get("activity_id"):
            row = ws.store.update("survey_responses", row["id"], {"activity_id": activity["id"]})
        _flag(ws, row, now)
    return row


def describe(row: dict) -> str:
    if row["kind"] == "csat":
        what = f"CSAT: {CSAT_LABELS.get(row['score'], row['score'])}"
        return what + (f" (ticket #{row['ticket_id']})" if row.get("ticket_id") else "")
    return f"NPS: {row['score']}/10"


def _activity(ws: Any, row: dict, now: str) -> dict:
    values = {"subject": describe(row), "body": row.get("comment") or "", "occurred_at": now}
    if row.get("activity_id") and ws.store.scalar("SELECT 1 FROM activities WHERE id = ?", [row["activity_id"]]):
        return ws.store.update("activities", row["activity_id"], values)
    values.update(kind="note", channel="email", contact_id=row["contact_id"], done=1)
    return ws.store.insert("activities", values)


def _flag(ws: Any, row: dict, now: str) -> None:
    """Open a churn-risk flag on a low score; a better answer to the same survey clears the one it opened."""
    mine = ws.query("SELECT * FROM survey_flags WHERE response_id = ? AND cleared_at IS NULL", [row["id"]])
    if is_low(row["kind"], row["score"]):
        if not mine and not open_flag(ws, row["contact_id"]):
            ws.store.insert(
                "survey_flags",
                {"contact_id": row["contact_id"], "response_id": row["id"], "reason": describe(row), "flagged_at": now},
            )
    else:
        for flag in mine:
            ws.store.update("survey_flags", flag["id"], {"cleared_at": now, "cleared_by": ws.user})
    sync_tag(ws, row["contact_id"])


def sync_tag(ws: Any, contact_id: int) -> None:
    """The contact carries the tag ``churn-risk`` (the contacts module's tags) exactly while a flag is open."""
    if not table_exists(ws, "contact_tags"):
        return
    tag = ws.query("SELECT id FROM contact_tags WHERE contact_id = ? AND tag = ?", [contact_id, CHURN_TAG])
    if open_flag(ws, contact_id) and not tag:
        ws.store.insert("contact_tags", {"contact_id": contact_id, "tag": CHURN_TAG})
    elif tag and not open_flag(ws, contact_id):
        ws.store.delete("contact_tags", tag[0]["id"])


def open_flag(ws: Any, contact_id: int) -> dict | None:
    rows = ws.query(
        "SELECT * FROM survey_flags WHERE contact_id = ? AND cleared_at IS NULL ORDER BY id DESC LIMIT 1", [contact_id]
    )
    return rows[0] if rows else None


def clear_flag(ws: Any, contact_id: int) -> int:
    """Clear the contact's open churn-risk flags (a person's decision, audited); how many were open."""
    flags = ws.query("SELECT id, version FROM survey_flags WHERE contact_id = ? AND cleared_at IS NULL", [contact_id])
    now = utcnow()
    ws.store.update_many(
        "survey_flags", [(f["id"], {"cleared_at": now, "cleared_by": ws.user}, f["version"]) for f in flags]
    )
    return len(flags)


def opt_out(ws: Any, contact_id: int) -> None:
    """Record that the contact wants no more NPS surveys (idempotent; CSAT after a ticket is unaffected)."""
    if not ws.store.scalar("SELECT 1 FROM survey_optouts WHERE contact_id = ?", [contact_id]):
        ws.store.insert("survey_optouts", {"contact_id": int(contact_id), "at": utcnow()})


def _age_days(then: str, now: str) -> float:
    def parse(text):
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)

    return (parse(now) - parse(then)) / timedelta(days=1)


def validate(ws: Any, record_: dict, before: dict | None) -> dict[str, str]:
    """Kind, score within its scale."""
    from crm_workspace.data import checks

    from .schema import KINDS

    errors: dict[str, str] = {}
    kind = record_.get("kind", (before or {}).get("kind"))
    checks.choice(record_, "kind", KINDS, errors)
    if "score" in record_:
        high = 1 if kind == "csat" else 10
        try:
            score = int(record_["score"])
        except (TypeError, ValueError):
            score = -1
        if not 0 <= score <= high or str(record_["score"]).strip() not in {str(score)}:
            errors["score"] = f"a {kind} score is a whole number from 0 to {high}"
        else:
            record_["score"] = score
    return errors
