"""Sending a campaign: render each recipient's message, queue it in the core outbox, deliver, finish.

``queue`` renders and enqueues every recipient not yet queued for the campaign in ONE
transaction (a template that fails for anyone queues nobody), recording who got which
variant in ``campaign_recipients``. Each message's outbox key is
``campaign:<id>:<contact id>``: queueing twice is one message. ``send`` then delivers
through the outbox (crash-safe: a killed sender never sends a row twice), so
``crm marketing send CAMPAIGN`` run again continues where it stopped. With an A/B test,
the first run sends the variants to the test share; ``run`` (or the tick) picks the
winner after the wait and queues it for everyone else.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from crm_workspace import CrmError
from crm_workspace.data.store import utcnow

from . import tracking
from .campaigns import ab_config, audience, get_campaign, variants
from .core import Mailer, MessageTemplate, Prepared, counts, deliver, enqueue_many, mail_from
from .render import contexts, html_to_text, links_of, render_parts, sample_context, track, with_footer

if TYPE_CHECKING:
    from crm_workspace import Workspace

PLUGIN = "marketing"
CHUNK = 2000


def outbox_key(campaign_id: int, contact_id: int) -> str:
    return f"campaign:{campaign_id}:{contact_id}"


# ------------------------------------------------------------------ links
def ensure_links(workspace: Workspace, campaign: dict[str, Any]) -> dict[str, int]:
    """The campaign's tracked links by URL (positions fixed at the first send, new ones appended)."""
    known = {
        r["url"]: r["position"]
        for r in workspace.query("SELECT url, position FROM campaign_links WHERE campaign_id = ?", [campaign["id"]])
    }
    new = [url for version in variants(campaign) for url in links_of(version["html"]) if url not in known]
    new = list(dict.fromkeys(new))
    if new:
        start = max(known.values(), default=-1) + 1
        rows = [{"campaign_id": campaign["id"], "position": start + i, "url": url} for i, url in enumerate(new)]
        workspace.store.insert_many("campaign_links", rows)
        known.update({r["url"]: r["position"] for r in rows})
    return known


# --------------------------------------------------------------- messages
def build_message(
    workspace: Workspace,
    campaign: dict[str, Any],
    version: dict[str, str],
    context: dict[str, Any],
    *,
    contact_id: int | None,
    to: str,
    links: dict[str, int] | None,
    test: bool = False,
    template: MessageTemplate | None = None,
    signer: tracking.Signer | None = None,
) -> Prepared:
    """One recipient's message: merged, links tracked, pixel, List-Unsubscribe (RFC 8058 one-click).

    ``template`` (from ``message_template``) and ``signer`` (``tracking.signer``: the link
    settings read once) are made once per campaign when queueing many.
    """
    cid = campaign["id"]
    signer = signer or tracking.signer(workspace)
    unsubscribe = signer.unsubscribe_url(cid, contact_id, test=test)
    context = {**context, "unsubscribe_url": unsubscribe, "campaign": campaign["name"]}
    subject, html, text = render_parts(version["subject"], version["html"], version["text"], context)
    if not text.strip() and html.strip():
        text = html_to_text(html)
    mentioned = "unsubscribe_url" in (version["html"] or "") + (version["text"] or "")
    html, text = with_footer(html, text, unsubscribe, mentioned=mentioned)
    if html and links is not None and contact_id is not None and not test:
        html = track(
            html,
            links,
            lambda position: signer.click_url(cid, contact_id, position),
            signer.open_url(cid, contact_id),
        )
    template = template or message_template(workspace, campaign)
    address = (template.sender or "").split("<")[-1].strip(" >")
    headers = {
        "List-Unsubscribe": f"<{unsubscribe}>, <mailto:{address}?subject=unsubscribe>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    return template.make(
        to=to, subject=("[Test] " if test else "") + subject, text=text, html=html or None, headers=headers
    )


def message_template(workspace: Workspace, campaign: dict[str, Any]) -> MessageTemplate:
    """What all the campaign's messages share (sender, Reply-To, X-Campaign), encoded once."""
    return MessageTemplate(
        sender=campaign.get("sender") or mail_from(workspace),
        reply_to=campaign.get("reply_to") or None,
        headers={"X-Campaign": str(campaign["id"])},
    )


def preview(workspace: Workspace, campaign: str | int, contact_id: int | None = None, variant: int = 0) -> dict:
    """What ``contact_id`` (or a sample person) would read: subject, HTML and text, links untracked."""
    row = get_campaign(workspace, campaign)
    versions = variants(row)
    if not 0 <= variant < len(versions):
        raise CrmError(f"campaign '{row['name']}' has {len(versions)} version(s), not a variant {chr(65 + variant)}")
    context = contexts(workspace, [contact_id]).get(contact_id) if contact_id else sample_context()
    if context is None:
        raise CrmError(f"no contact #{contact_id}")
    version = versions[variant]
    context = {**context, "unsubscribe_url": "#unsubscribe", "campaign": row["name"]}
    subject, html, text = render_parts(version["subject"], version["html"], version["text"], context)
    return {"subject": subject, "html": html, "text": text or html_to_text(html)}


def send_test(
    workspace: Workspace, campaign: str | int, to: str, contact_id: int | None = None, variant: int = 0
) -> str:
    """Send the campaign as ``contact_id`` (or a sample person) would get it to ``to`` now; its Message-ID.

    Its unsubscribe link is a test link: opening it changes nobody's consent.
    """
    row = get_campaign(workspace, campaign)
    versions = variants(row)
    context = contexts(workspace, [contact_id]).get(contact_id) if contact_id else sample_context()
    message = build_message(
        workspace,
        row,
        versions[min(variant, len(versions) - 1)],
        context or sample_context(),
        contact_id=contact_id,
        to=to,
        links=None,
        test=True,
    )
    Mailer.from_workspace(workspace).send(message)
    return str(message["Message-ID"])


# ------------------------------------------------------------------- queue
def _order(campaign_id: int, contact_id: int) -> str:
    return hashlib.sha256(f"{campaign_id}:{contact_id}".encode()).hexdigest()


def plan(campaign: dict[str, Any], people: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict | None]:
    """Who gets which variant now, and the A/B state after queueing (None without a test).

    The audience is a snapshot: taken when the campaign is first sent (and, with an A/B
    test, once more for the rest when the winner is known); resuming adds nobody.
    """
    ab = ab_config(campaign)
    if ab is None:
        return ([{**p, "variant": 0, "phase": "all"} for p in people] if campaign["status"] == "draft" else []), None
    phase = ab.get("phase")
    if phase == "testing" or (phase == "decided" and ab.get("rest_queued")):
        return [], ab
    if phase == "decided":
        return [{**p, "variant": int(ab["winner"]), "phase": "rest"} for p in people], {**ab, "rest_queued": True}
    count = len(ab["variants"]) + 1
    shuffled = sorted(people, key=lambda p: _order(campaign["id"], p["contact_id"]))
    size = min(len(shuffled), max(count, math.ceil(len(shuffled) * float(ab["share"]))))
    chosen = [{**p, "variant": i % count, "phase": "test"} for i, p in enumerate(shuffled[:size])]
    return chosen, {**ab, "phase": "testing", "test_started_at": utcnow()}


def queue(workspace: Workspace, campaign: str | int) -> int:
    """Render and queue the message for everyone due it now (one transaction); how many were queued."""
    row = get_campaign(workspace, campaign)
    if row["status"] == "sent":
        return 0
    segment = workspace.query("SELECT name, status, problem FROM segments WHERE id = ?", [row["segment_id"]])
    if not segment:
        raise CrmError(f"campaign '{row['name']}' has no segment: choose who receives it")
    if segment[0]["status"] == "broken":
        raise CrmError(f"segment '{segment[0]['name']}' is broken ({segment[0]['problem']}): fix it before sending")
    store = workspace.store
    with store.transaction():
        ab_now = ab_config(row)
        due = row["status"] == "draft" or ((ab_now or {}).get("phase") == "decided" and not ab_now.get("rest_queued"))
        chosen, ab = plan(row, audience(workspace, row) if due else [])
        versions = variants(row)
        links = ensure_links(workspace, row)
        template = message_template(workspace, row)
        signer = tracking.signer(workspace)
        now = utcnow()
        for start in range(0, len(chosen), CHUNK):
            part = chosen[start : start + CHUNK]
            merged = contexts(workspace, [p["contact_id"] for p in part])
            entries = []
            for person in part:
                context = merged.get(person["contact_id"])
                if context is None:
                    continue
                message = build_message(
                    workspace,
                    row,
                    versions[person["variant"]],
                    context,
                    contact_id=person["contact_id"],
                    to=person["email"],
                    links=links,
                    template=template,
                    signer=signer,
                )
                entries.append(
                    {
                        "message": message,
                        "key": outbox_key(row["id"], person["contact_id"]),
                        "plugin": PLUGIN,
                        "ref_table": "campaigns",
                        "ref_id": row["id"],
                        "contact_id": person["contact_id"],
                    }
                )
            ids = enqueue_many(workspace, entries)
            by_contact = {e["contact_id"]: i for e, i in zip(entries, ids, strict=True)}
            store.insert_many(
                "campaign_recipients",
                [
                    {
                        "campaign_id": row["id"],
                        "contact_id": p["contact_id"],
                        "email": p["email"],
                        "variant": p["variant"],
                        "phase": p["phase"],
                        "outbox_id": by_contact.get(p["contact_id"]),
                        "queued_at": now,
                    }
                    for p in part
                    if p["contact_id"] in by_contact
                ],
            )
        changes: dict[str, Any] = {}
        if row["status"] == "draft":
            changes.update(status="sending", started_at=now)
        if ab is not None and ab != ab_config(row):
            changes["ab"] = json.dumps(ab, ensure_ascii=False, separators=(",", ":"))
        if changes:
            store.update("campaigns", row["id"], changes)
    return len(chosen)


# ----------------------------------------------------------------- deliver
def progress(workspace: Workspace, campaign_id: int) -> dict[str, int]:
    """The campaign's ledger: rows by outbox state."""
    found = dict.fromkeys(("queued", "sending", "sent", "failed", "unknown"), 0)
    for r in workspace.query(
        "SELECT status, count(*) AS n FROM mail_outbox WHERE plugin = ? AND ref_table = 'campaigns' AND ref_id = ?"
        " GROUP BY status",
        [PLUGIN, str(campaign_id)],
    ):
        found[r["status"]] = r["n"]
    return found


def finish(workspace: Workspace) -> list[str]:
    """Mark campaigns sent whose every message left the queue (and whose A/B test is decided); their names."""
    from .bounces import sync_refusals

    sync_refusals(workspace)
    done = []
    for row in workspace.query("SELECT * FROM campaigns WHERE status = 'sending'"):
        ab = ab_config(row)
        if ab is not None and ab.get("phase") != "decided":
            continue
        state = progress(workspace, row["id"])
        if state["queued"] or state["sending"]:
            continue
        workspace.store.update("campaigns", row["id"], {"status": "sent", "sent_at": utcnow()})
        done.append(row["name"])
    return done


def send(
    workspace: Workspace,
    campaign: str | int,
    *,
    per_minute: int | None = None,
    limit: int | None = None,
    progress_fn: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Queue whoever is due the campaign, deliver the marketing queue, finish; what happened."""
    row = get_campaign(workspace, campaign)
    queued = queue(workspace, row["id"])
    rate = per_minute if per_minute is not None else row.get("per_minute")
    delivery = deliver(workspace, plugin=PLUGIN, limit=limit, per_minute=rate, progress=progress_fn)
    finished = finish(workspace)
    row = get_campaign(workspace, row["id"])
    return {
        "campaign": row["name"],
        "queued": queued,
        "sent": delivery.sent,
        "failed": delivery.failed,
        "retrying": delivery.retrying,
        "unknown": delivery.unknown,
        "stopped": delivery.error or None,
        "status": row["status"],
        "finished": row["name"] in finished,
        "ledger": progress(workspace, row["id"]),
    }


def backlog(workspace: Workspace) -> dict[str, int]:
    return counts(workspace, plugin=PLUGIN)


# ---------------------------------------------------------------- A/B test
#: per variant: the amount of open or won deals its test recipients created after a human open or
#: click of this campaign (influenced revenue, the A/B metric "revenue"); needs the deals table
VARIANT_REVENUE_SQL = """
SELECT r.variant, coalesce(sum(d.amount), 0) AS revenue
FROM campaign_recipients r JOIN deals d ON d.contact_id = r.contact_id
WHERE r.campaign_id = :campaign AND r.phase = 'test' AND d.status IN ('open', 'won') AND d.created_at >= :since
  AND EXISTS (SELECT 1 FROM marketing_events e WHERE e.campaign_id = r.campaign_id AND e.contact_id = r.contact_id
              AND e.machine = 0 AND e.kind IN ('open', 'click') AND e.at <= d.created_at)
GROUP BY r.variant
"""


def results(workspace: Workspace, campaign_id: int) -> list[dict[str, Any]]:
    """Each variant's recipients, unique human opens and clicks, rates and influenced revenue."""
    rows = workspace.query(
        """
        SELECT r.variant, count(DISTINCT r.contact_id) AS recipients,
               count(DISTINCT o.contact_id) AS opens, count(DISTINCT k.contact_id) AS clicks
        FROM campaign_recipients r
        LEFT JOIN marketing_events o ON o.campaign_id = r.campaign_id AND o.contact_id = r.contact_id
             AND o.kind = 'open' AND o.machine = 0
        LEFT JOIN marketing_events k ON k.campaign_id = r.campaign_id AND k.contact_id = r.contact_id
             AND k.kind = 'click' AND k.machine = 0
        WHERE r.campaign_id = ? AND r.phase = 'test' GROUP BY r.variant ORDER BY r.variant
        """,
        [campaign_id],
    )
    for r in rows:
        r["name"] = chr(65 + r["variant"])
        r["open_rate"] = r["opens"] / r["recipients"] if r["recipients"] else 0.0
        r["click_rate"] = r["clicks"] / r["recipients"] if r["recipients"] else 0.0
    revenue = {}
    if rows and workspace.store.scalar("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'deals'"):
        since = (ab_config(get_campaign(workspace, campaign_id)) or {}).get("test_started_at") or ""
        found = workspace.query(VARIANT_REVENUE_SQL, {"campaign": campaign_id, "since": since})
        revenue = {r["variant"]: float(r["revenue"]) for r in found}
    for r in rows:
        r["revenue"] = revenue.get(r["variant"], 0.0)
    return rows


def decide(workspace: Workspace, campaign: str | int, *, force: bool = False, now: str | None = None) -> int | None:
    """Pick the A/B winner once the wait is over (or ``force``); the winning variant, or None if not yet."""
    row = get_campaign(workspace, campaign)
    ab = ab_config(row)
    if ab is None or ab.get("phase") != "testing":
        return ab.get("winner") if ab else None
    moment = datetime.fromisoformat((now or utcnow()).replace("Z", "+00:00"))
    started = datetime.fromisoformat(ab["test_started_at"].replace("Z", "+00:00"))
    if not force and moment < started + timedelta(hours=float(ab["wait_hours"])):
        return None
    found = results(workspace, row["id"])
    rate = {"opens": "open_rate", "clicks": "click_rate", "revenue": "revenue"}[ab["metric"]]
    winner = max(found, key=lambda r: (r[rate], r["click_rate"], -r["variant"]))["variant"] if found else 0
    ab.update(
        phase="decided",
        winner=winner,
        decided_at=moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        results=[{k: r[k] for k in ("variant", "recipients", "opens", "clicks", "revenue")} for r in found],
    )
    workspace.store.update("campaigns", row["id"], {"ab": json.dumps(ab, separators=(",", ":"))})
    return winner


def run(
    workspace: Workspace, now: str | None = None, *, per_minute: int | None = None, limit: int | None = None
) -> dict[str, Any]:
    """The scheduled work (cron-safe): due A/B decisions, their winners queued, the queue delivered.

    ``limit`` caps the messages delivered in this run (a tick stays short; the rest waits for the next).
    """
    decided, queued = [], 0
    for row in workspace.query("SELECT id, name, ab FROM campaigns WHERE status = 'sending' AND ab IS NOT NULL"):
        if decide(workspace, row["id"], now=now) is not None:
            decided.append(row["name"])
            queued += queue(workspace, row["id"])
    waiting = workspace.store.scalar(
        "SELECT count(*) FROM mail_outbox WHERE plugin = ? AND status = 'queued'", [PLUGIN]
    )
    delivery = deliver(workspace, plugin=PLUGIN, per_minute=per_minute, limit=limit) if waiting else None
    finished = finish(workspace)
    return {
        "decided": decided,
        "queued": queued,
        "sent": delivery.sent if delivery else 0,
        "failed": delivery.failed if delivery else 0,
        "stopped": (delivery.error or None) if delivery else None,
        "finished": finished,
    }
