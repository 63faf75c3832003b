"""The runner: due steps done, e-mail queued in the core outbox, everything written to the ledger.

``run`` (``crm sequences run``, the ``crm_tick``) is idempotent and cron-safe:

1. people who entered a trigger segment since the last run are enrolled;
2. due enrollments are *claimed* with one UPDATE (``next_run_at <= now`` and ``status =
   'active'``, the sequence active, nobody else's fresh claim) in one transaction: two runners
   at once never work on the same person;
3. each claimed enrollment advances in ONE transaction of its own: exit conditions checked
   before each step, the step done, its ledger row written, the next step and when it is due.
   An e-mail goes to the core outbox with key ``seq:<enrollment>:<step>``: a rerun never
   sends it twice. A step that fails (a template that does not render ...) is rolled back,
   written to the ledger with its reason and retried with backoff, ``failed`` after
   ``MAX_ATTEMPTS``; it never stops the others;
4. the sequences' outbox rows are delivered.

What this reuses from the marketing package (``..render``, ``..tracking``): merge fields of a
contact, rendering of subject/HTML/text with the core templates, the unsubscribe footer and
the signed unsubscribe link (``unsubscribe_url`` with no campaign), the open pixel
(``open_url`` with no campaign and ``ref`` the outbox key) and click links
(``tracking.link_url``: the token signs the target URL and the ref ``seq:<enrollment>:<step>``).
A branch looks only at the opens/clicks of this enrollment's own mail (``marketing_events.ref``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from crm_workspace import CrmError
from crm_workspace.data.store import utcnow
from crm_workspace.services import privacy
from crm_workspace.services.mailer import MailError, mail_from, make_message
from crm_workspace.services.outbox import deliver, enqueue
from crm_workspace.services.templates import render

from .. import tracking
from ..mailable import refusal
from ..render import contexts, html_to_text, links_of, render_parts, track, with_footer
from .model import enrol_segment_entries, get_sequence, ledger

if TYPE_CHECKING:
    from crm_workspace import Workspace

PLUGIN = "sequences"
MAX_ATTEMPTS = 3
#: Steps one enrollment may take in one run (a branch looping back waits for the next run).
MAX_HOPS = 20
#: A claim older than this (a runner that died) may be taken over.
STALE_CLAIM = timedelta(minutes=15)
#: How often a branch looks again for an open or click before its deadline.
BRANCH_RECHECK = timedelta(hours=1)
CUSTOMER_STAGES = ("customer", "advocate")
#: Who may be mailed is the marketing package's one rule (``..mailable``), shared with campaigns;
#: opens and clicks are ``marketing_events`` rows.


def parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00")).astimezone(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def backoff(attempts: int) -> timedelta:
    return timedelta(minutes=5 * 4 ** max(attempts - 1, 0))


# ---------------------------------------------------------------- checks
def _contact(workspace: Workspace, contact_id: int) -> dict[str, Any] | None:
    """The contact's row, with ``_erased``: whether the core's list of the erased names them (one read)."""
    rows = workspace.query(
        f"SELECT c.*, NOT ({privacy.not_erased('c.id')}) AS _erased FROM contacts c WHERE c.id = ?", [contact_id]
    )
    return rows[0] if rows else None


def gone(contact: dict[str, Any] | None) -> bool:
    """Deleted, or erased (the core's list says so, never a guess from the name)."""
    return contact is None or bool(contact["_erased"])


def replied(workspace: Workspace, contact_id: int, since: str) -> bool:
    """An inbound e-mail after ``since``: a maillog message filed "in", or an email activity "Re: …"."""
    if workspace.store.scalar(
        "SELECT 1 FROM activities WHERE contact_id = ? AND kind = 'email' AND occurred_at > ?"
        " AND subject LIKE 'Re:%' LIMIT 1",
        [contact_id, since],
    ):
        return True
    if workspace.store.scalar("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'maillog_messages'"):
        return bool(
            workspace.store.scalar(
                "SELECT 1 FROM maillog_links l JOIN maillog_messages m ON m.message_id = l.message_id"
                " WHERE l.contact_id = ? AND m.direction = 'in' AND m.sent_at > ? LIMIT 1",
                [contact_id, since],
            )
        )
    return False


def exit_reason(workspace: Workspace, sequence: dict, enrollment: dict, contact: dict | None) -> str | None:
    """Why the person leaves the sequence before the next step, or None."""
    if gone(contact):
        return "erased"
    exits = sequence["exits"]
    stage = contact.get("lifecycle_stage")
    if "unsubscribed" in exits and contact.get("marketing_consent") == 0:
        return "unsubscribed"
    if "became_customer" in exits and stage in CUSTOMER_STAGES:
        return "became customer"
    for item in exits:
        if str(item).startswith("stage:") and stage == item[6:]:
            return f"reached stage {stage}"
    if "replied" in exits and replied(workspace, contact["id"], enrollment["enrolled_at"]):
        return "replied"
    return None


def mail_refusal(workspace: Workspace, contact: dict[str, Any]) -> str | None:
    """Why this person may not get marketing e-mail now (the campaigns' audience rule), or None."""
    return refusal(workspace, contact)


# ----------------------------------------------------------------- steps
def build_email(workspace: Workspace, sequence: dict, args: dict, contact: dict, key: str):
    cid = contact["id"]
    context = contexts(workspace, [cid]).get(cid) or {}
    signer = tracking.signer(workspace)  # the link settings read once for this message
    unsubscribe = signer.unsubscribe_url(None, cid)
    context = {**context, "unsubscribe_url": unsubscribe, "sequence": sequence["name"]}
    subject, html, text = render_parts(args.get("subject") or "", args.get("html"), args.get("text"), context)
    if not text.strip() and html.strip():
        text = html_to_text(html)
    mentioned = "unsubscribe_url" in (args.get("html") or "") + (args.get("text") or "")
    html, text = with_footer(html, text, unsubscribe, mentioned=mentioned)
    if html:
        urls = links_of(args.get("html"))  # the template's literal links (not the unsubscribe footer)
        html = track(
            html,
            {url: position for position, url in enumerate(urls)},
            lambda position: signer.link_url(key, cid, urls[position]),
            signer.open_url(None, cid, ref=key),
        )
    sender = sequence.get("sender") or mail_from(workspace)
    address = sender.split("<")[-1].strip(" >")
    headers = {
        "List-Unsubscribe": f"<{unsubscribe}>, <mailto:{address}?subject=unsubscribe>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "X-Sequence": f"{sequence['id']}:{key}",
    }
    return make_message(
        to=contact["email"], subject=subject, text=text, html=html or None, sender=sender, headers=headers
    )


def _last_email_at(workspace: Workspace, enrollment: dict) -> str:
    at = workspace.store.scalar(
        "SELECT max(at) FROM sequence_runs WHERE enrollment_id = ? AND action = 'email' AND outcome = 'ok'",
        [enrollment["id"]],
    )
    return at or enrollment["enrolled_at"]


def do_step(workspace, sequence, enrollment, contact, step, now) -> tuple[int | None, str, str, str, int | None]:
    """(next position or None to stay, next run at, action detail, outcome, outbox id); exits are raised."""
    pos, a, kind = step["position"], step["args"], step["kind"]
    moment = parse(now)
    if kind == "wait":
        delta = timedelta(days=float(a.get("days") or 0), hours=float(a.get("hours") or 0))
        return pos + 1, iso(moment + delta), f"wait until {iso(moment + delta)}", "ok", None
    if kind == "email":
        refusal = mail_refusal(workspace, contact)
        if refusal:
            raise _Exit(refusal)
        key = f"seq:{enrollment['id']}:{pos}"
        message = build_email(workspace, sequence, a, contact, key)
        outbox_id = enqueue(
            workspace,
            message,
            key=key,
            plugin=PLUGIN,
            ref_table="sequence_enrollments",
            ref_id=enrollment["id"],
            contact_id=contact["id"],
        )
        # the ledger is append-only and outlives an erasure: it names the template, never the person
        return pos + 1, now, f"queued “{a.get('subject', '')[:120]}”", "ok", outbox_id
    if kind == "task":
        days = float(a.get("due_days") or 0)
        context = contexts(workspace, [contact["id"]]).get(contact["id"]) or {}
        title = render(a.get("title") or "", context, html=False)
        task = workspace.store.insert(
            "activities",
            {
                "kind": "task",
                "subject": title,
                "body": f"From the sequence “{sequence['name']}”",
                "contact_id": contact["id"],
                "owner": contact.get("owner") or sequence.get("owner"),
                "due_at": iso(moment + timedelta(days=days)),
                "occurred_at": now,
                "done": 0,
            },
        )
        return pos + 1, now, f"task #{task['id']}", "ok", None
    if kind == "set_field":
        workspace.store.update("contacts", contact["id"], {a["field"]: a.get("value")})
        return pos + 1, now, f"set {a['field']}", "ok", None
    if kind == "set_stage":
        workspace.store.update("contacts", contact["id"], {"lifecycle_stage": a["stage"]})
        return pos + 1, now, f"stage {a['stage']}", "ok", None
    if kind == "branch":
        event = "click" if a.get("on") == "clicked" else "open"
        since = _last_email_at(workspace, enrollment)
        found = workspace.store.scalar(
            "SELECT 1 FROM marketing_events WHERE contact_id = ? AND kind = ? AND machine = 0 AND at >= ?"
            " AND ref LIKE ? LIMIT 1",
            [contact["id"], event, since, f"seq:{enrollment['id']}:%"],
        )
        yes, no = a.get("yes", pos + 1), a.get("no", pos + 1)
        deadline = parse(enrollment["step_started_at"] or now) + timedelta(days=float(a.get("within_days", 3)))
        if found:
            return yes, now, f"{a.get('on', 'opened')}: yes → step {yes}", "ok", None
        if moment >= deadline:
            return no, now, f"not {a.get('on', 'opened')} within {a.get('within_days', 3)} d → step {no}", "ok", None
        return None, iso(min(deadline, moment + BRANCH_RECHECK)), f"no {event} yet", "waiting", None
    raise CrmError(f"unknown step kind {kind!r}")


class _Exit(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# ------------------------------------------------------------------- run
def claim(workspace: Workspace, now: str, limit: int) -> list[dict[str, Any]]:
    """Take due enrollments for this runner in one UPDATE (a lock column, written in raw SQL)."""
    token = uuid.uuid4().hex
    stale = iso(parse(now) - STALE_CLAIM)
    store = workspace.store
    with store.transaction():
        store.conn.execute(
            "UPDATE sequence_enrollments SET claim = ?, claimed_at = ? WHERE id IN ("
            " SELECT e.id FROM sequence_enrollments e JOIN sequences s ON s.id = e.sequence_id"
            " WHERE e.status = 'active' AND s.status = 'active' AND e.next_run_at <= ?"
            " AND (e.claim IS NULL OR e.claimed_at < ?) ORDER BY e.next_run_at LIMIT ?)",
            [token, now, now, stale, int(limit)],
        )
    return workspace.query("SELECT * FROM sequence_enrollments WHERE claim = ? ORDER BY next_run_at, id", [token])


def advance(workspace: Workspace, enrollment: dict, now: str, sequences: dict[int, dict]) -> dict[str, int]:
    """Take the enrollment through its due steps (one transaction); counts of what happened."""
    done = {"steps": 0, "emails": 0, "exited": 0, "completed": 0, "failed": 0, "retrying": 0}
    sid = enrollment["sequence_id"]
    sequence = sequences.get(sid) or sequences.setdefault(sid, get_sequence(workspace, sid))
    steps = sequence["steps"]
    store = workspace.store
    current = dict(enrollment)
    try:
        with store.transaction():
            for _hop in range(MAX_HOPS):
                pos = current["current_step"]
                contact = _contact(workspace, current["contact_id"])
                changes: dict[str, Any]
                if pos >= len(steps):
                    changes = {"status": "completed", "next_run_at": None}
                    ledger(workspace, current, current["contact_id"], pos, "complete", "ok", at=now)
                    done["completed"] += 1
                    store.update("sequence_enrollments", current["id"], {**changes, "claim": None})
                    return done
                reason = exit_reason(workspace, sequence, current, contact)
                try:
                    if reason:
                        raise _Exit(reason)
                    step = steps[pos]
                    nxt, when, detail, outcome, outbox_id = do_step(workspace, sequence, current, contact, step, now)
                except _Exit as leave:
                    ledger(workspace, current, current["contact_id"], pos, "exit", "exited", leave.reason, at=now)
                    store.update(
                        "sequence_enrollments",
                        current["id"],
                        {"status": "exited", "exit_reason": leave.reason, "next_run_at": None, "claim": None},
                    )
                    done["exited"] += 1
                    return done
                ledger(
                    workspace,
                    current,
                    current["contact_id"],
                    pos,
                    step["kind"],
                    outcome,
                    detail,
                    outbox_id=outbox_id,
                    at=now,
                )
                if nxt is None:
                    store.update("sequence_enrollments", current["id"], {"next_run_at": when, "claim": None})
                    return done
                done["steps"] += 1
                done["emails"] += step["kind"] == "email"
                if step["kind"] != "branch" and isinstance(step["args"].get("then"), int):
                    nxt = step["args"]["then"]  # "then go to step N" (len(steps): the end)
                changes = {
                    "current_step": nxt,
                    "next_run_at": when,
                    "step_started_at": max(when, now),
                    "attempts": 0,
                    "last_error": None,
                }
                current = store.update("sequence_enrollments", current["id"], changes)
                if when > now:
                    break
            store.update("sequence_enrollments", current["id"], {"claim": None})
    except Exception as error:
        fail(workspace, enrollment, now, error, done)
    return done


def fail(workspace: Workspace, enrollment: dict, now: str, error: Exception, done: dict[str, int]) -> None:
    """The step's writes were rolled back: record why, retry later with backoff, or give up."""
    row = workspace.store.get("sequence_enrollments", enrollment["id"])
    attempts = int(row.get("attempts") or 0) + 1
    reason = str(error) if isinstance(error, CrmError) else f"{type(error).__name__}: {error}"
    final = attempts >= MAX_ATTEMPTS
    with workspace.store.transaction():
        ledger(
            workspace,
            row,
            row["contact_id"],
            row["current_step"],
            "step",
            "failed",
            f"attempt {attempts}/{MAX_ATTEMPTS}: {reason}" + ("" if final else " (will retry)"),
            at=now,
        )
        changes: dict[str, Any] = {"attempts": attempts, "last_error": reason[:500], "claim": None}
        if final:
            changes.update(status="failed", exit_reason=f"step {row['current_step']} failed: {reason}"[:500])
        else:
            changes["next_run_at"] = iso(parse(now) + backoff(attempts))
        workspace.store.update("sequence_enrollments", row["id"], changes)
    done["failed" if final else "retrying"] += 1


def run(workspace: Workspace, now: str | None = None, *, limit: int = 1000, send: bool = True) -> dict[str, Any]:
    """The scheduled work (idempotent): enrol segment entries, do due steps, deliver the queued e-mail."""
    now = iso(parse(now)) if now else utcnow()
    report: dict[str, Any] = {"now": now, "enrolled": enrol_segment_entries(workspace, now)}
    claimed = claim(workspace, now, limit)
    report["claimed"] = len(claimed)
    totals = dict.fromkeys(("steps", "emails", "exited", "completed", "failed", "retrying"), 0)
    sequences: dict[int, dict] = {}
    for enrollment in claimed:
        for key, value in advance(workspace, enrollment, now, sequences).items():
            totals[key] += value
    report.update(totals)
    report.update(sent=0, delivery_failed=0, stopped=None)
    if send and workspace.store.scalar(
        "SELECT 1 FROM mail_outbox WHERE plugin = ? AND status = 'queued' LIMIT 1", [PLUGIN]
    ):
        try:
            delivery = deliver(workspace, plugin=PLUGIN, limit=limit)
            report.update(sent=delivery.sent, delivery_failed=delivery.failed, stopped=delivery.error or None)
        except MailError as error:
            report["stopped"] = str(error)
    return report
