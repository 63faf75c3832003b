"""Demo answers over the last 90 days: CSAT on solved tickets (when the service demo made some), NPS from customers.

This period's NPS survey went out already (``_nps_sends``): each customer it reached has its
``sent`` outbox row under the key the tick uses, so the served demo's first tick does not
survey the customers who did not answer (yet) a second time.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from crm_workspace.services.demo import demo_today, iso

from .nps import period_start, recipients
from .rules import CHURN_TAG, PLUGIN, is_low, table_exists

COMMENTS = {
    "good": ["Quick and friendly, thanks!", "Solved on the first reply.", "Great help.", ""],
    "bad": ["Took far too long.", "I had to explain the problem three times.", "Not solved, really."],
    "nps_high": ["Love the product.", "Support is excellent.", ""],
    "nps_mid": ["Fine, but the reports could be better.", ""],
    "nps_low": ["Too expensive for what it does.", "Too many bugs lately.", "Missing integrations."],
}


def add_demo(ws, seed: int, today: str | None) -> None:
    rng = random.Random(seed + 2002)
    now = demo_today(today)
    rows: list[dict] = []
    tickets = []
    if table_exists(ws, "tickets"):
        tickets = ws.query(
            "SELECT id, requester_id FROM tickets WHERE status IN ('solved', 'closed') AND requester_id IS NOT NULL"
            " ORDER BY id"
        )
    if tickets:
        for t in rng.sample(tickets, min(len(tickets), max(1, len(tickets) // 2))):
            good = rng.random() < 0.86
            rows.append(_row("csat", t["requester_id"], int(good), rng.choice(COMMENTS["good" if good else "bad"]),
                             now - timedelta(days=rng.uniform(0, 90)), ticket_id=t["id"]))  # fmt: skip
    customers = [r["id"] for r in ws.query("SELECT id FROM contacts WHERE lifecycle_stage = 'customer' ORDER BY id")]
    if not tickets:  # no help desk: CSAT answers without a ticket still show the page's numbers
        for cid in rng.sample(customers, min(len(customers), 40)):
            good = rng.random() < 0.86
            rows.append(_row("csat", cid, int(good), rng.choice(COMMENTS["good" if good else "bad"]),
                             now - timedelta(days=rng.uniform(0, 90))))  # fmt: skip
    period = (now - timedelta(days=int(now.timestamp() // 86400) % 90)).date().isoformat()
    for cid in rng.sample(customers, int(len(customers) * 0.6)):
        score = rng.choices(range(11), weights=[1, 1, 1, 2, 2, 3, 4, 8, 14, 16, 12])[0]
        key = "nps_high" if score >= 9 else "nps_mid" if score >= 7 else "nps_low"
        rows.append(_row("nps", cid, score, rng.choice(COMMENTS[key]), now - timedelta(days=rng.uniform(0, 60)),
                         period=period))  # fmt: skip
    _nps_sends(ws, [r for r in rows if r["kind"] == "nps"], period, now)
    if not rows:
        return
    activities = [
        {"kind": "note", "channel": "email", "contact_id": row["contact_id"], "done": 1, "subject": _subject(row),
         "body": row["comment"] or "", "occurred_at": row["responded_at"], "created_at": row["responded_at"],
         "updated_at": row["responded_at"]}
        for row in rows
    ]  # fmt: skip
    for row, activity_id in zip(rows, ws.store.insert_many("activities", activities, audit=False, events=False,
                                                           validate=False), strict=True):  # fmt: skip
        row["activity_id"] = activity_id
    ids = ws.store.insert_many("survey_responses", rows, audit=False, events=False, validate=False)
    flags = [
        {
            "contact_id": row["contact_id"],
            "response_id": row_id,
            "reason": _subject(row),
            "flagged_at": row["responded_at"],
        }
        for row_id, row in zip(ids, rows, strict=True)
        if is_low(row["kind"], row["score"])
    ]
    seen, unique = set(), []
    for flag in flags:
        if flag["contact_id"] not in seen:
            seen.add(flag["contact_id"])
            unique.append(flag)
    ws.store.insert_many("survey_flags", unique, audit=False, events=False, validate=False)
    if table_exists(ws, "contact_tags"):
        tagged = {r["contact_id"] for r in ws.query("SELECT contact_id FROM contact_tags WHERE tag = ?", [CHURN_TAG])}
        ws.store.insert_many(
            "contact_tags",
            [{"contact_id": f["contact_id"], "tag": CHURN_TAG} for f in unique if f["contact_id"] not in tagged],
            audit=False,
            events=False,
            validate=False,
        )


def _nps_sends(ws, answers: list[dict], period: str, now) -> None:
    """The ledger of this period's survey: sent at its start (before any answer) to every customer due."""
    if period != period_start(iso(now), 90) or int(ws.setting("nps_every_days", 90) or 0) != 90:
        return  # another period length: the tick's keys would not match these
    start = datetime.fromisoformat(f"{period}T09:00:00+00:00")
    answered = {r["contact_id"]: r["responded_at"] for r in answers}
    emails = {
        r["id"]: r["email"]
        for r in ws.query(
            "SELECT id, email FROM contacts WHERE lifecycle_stage = 'customer' AND email IS NOT NULL AND email != ''"
        )
    }
    due = [r["id"] for r in recipients(ws, period)]  # everyone the tick would survey now
    sends = []
    for cid in sorted({*due, *(c for c in answered if c in emails)}):
        at = start
        if cid in answered:  # sent before the answer came
            at = min(at, datetime.fromisoformat(answered[cid].replace("Z", "+00:00")) - timedelta(hours=1))
        sends.append({"key": f"nps:{cid}:{period}", "plugin": PLUGIN, "ref_table": "contacts", "ref_id": str(cid),
                      "contact_id": cid, "sender": "crm@localhost", "recipient": emails.get(cid),
                      "subject": "How likely are you to recommend us?", "status": "sent", "attempts": 1,
                      "queued_at": iso(at), "attempted_at": iso(at), "sent_at": iso(at)})  # fmt: skip
    ws.store.insert_many("mail_outbox", sends, audit=False, events=False, validate=False)


def _subject(row: dict) -> str:
    from .rules import describe

    return describe(row)


def _row(kind, contact_id, score, comment, at, *, ticket_id=None, period=None) -> dict:
    return {"kind": kind, "contact_id": contact_id, "ticket_id": ticket_id, "score": score, "comment": comment or None,
            "period": period, "responded_at": iso(at), "created_at": iso(at), "updated_at": iso(at)}  # fmt: skip
