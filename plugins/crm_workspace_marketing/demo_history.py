"""Demo campaigns with a history: sent messages in the outbox, opens, clicks, scanners, unsubscribes,
bounces, an A/B test decided, a draft, a sign-up form with confirmed sign-ups.

Generated rows (``bulk``: no audit, no events) written through the Store; messages are
real (built by ``sending.build_message``) so the outbox holds what would have gone out.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from crm_workspace.services.demo import bulk, demo_today, iso

from . import sending, tracking
from .campaigns import get_campaign, save_campaign
from .forms import save_form
from .render import contexts
from .segments import add_members, get_segment, save_segment

if TYPE_CHECKING:
    from collections.abc import Mapping

    from crm_workspace import Workspace

#: At most this many recipients per demo campaign, whatever the demo's size.
MAX_RECIPIENTS = 600
HUMAN_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 Version/18.1 Safari/605.1.15",
)
SCANNER_AGENT = "Mozilla/5.0 (compatible; Barracuda Sentinel (EE))"

HTML = """<html><body><p>Hello {{{{ first_name | default("there") }}}},</p>
<p>{body}</p>
<p><a href="https://example.com/{slug}">{cta}</a> · <a href="https://example.com/blog">Our blog</a></p>
<p>The Northwind team</p></body></html>"""

CAMPAIGNS = (
    # name, days ago, subject, body, link slug, call to action, opens, clicks, A/B variant subject
    (
        "September newsletter",
        75,
        "What's new in September, {{ first_name | default('friend') }}",
        "Three new integrations and a price freeze until spring.",
        "september",
        "Read the update",
        0.42,
        0.11,
        None,
    ),
    (
        "Webinar: pipeline hygiene",
        40,
        "Join our webinar on pipeline hygiene",
        "A 40-minute session with practical checklists.",
        "webinar",
        "Save your seat",
        0.38,
        0.14,
        "{{ first_name | default('Hi') }}, is your pipeline clean?",
    ),
    (
        "November product news",
        12,
        "November: faster reports",
        "Reports now load ten times faster, and exports keep your filters.",
        "november",
        "See what changed",
        0.35,
        0.09,
        None,
    ),
)


def add_history(workspace: Workspace, seed: int, size: Mapping[str, int], today: str | None) -> None:
    rng = random.Random(seed + 1919)
    now = demo_today(today)
    segment = get_segment(workspace, "Newsletter audience")
    for spec in CAMPAIGNS:
        _campaign(workspace, rng, size, now, segment["id"], *spec)
    save_campaign(
        workspace,
        {
            "name": "December webinar invite",
            "subject": "{{ first_name | default('Hello') }}, one more webinar before the holidays",
            "html": HTML.format(
                body="Our last session this year: forecasting that sales trusts.", slug="december", cta="Register"
            ),
            "segment_id": get_segment(workspace, "Warm leads (DACH)")["id"],
        },
    )
    _form(workspace, rng, size, now)


def _campaign(
    workspace,
    rng,
    size,
    now: datetime,
    segment_id: int,
    name,
    days,
    subject,
    body,
    slug,
    cta,
    open_rate,
    click_rate,
    variant,
) -> None:
    started = now - timedelta(days=days)
    ab = None
    if variant:
        ab = {"variants": [{"subject": variant}], "share": 0.3, "metric": "opens", "wait_hours": 4}
    row = save_campaign(
        workspace,
        {
            "name": name,
            "subject": subject,
            "html": HTML.format(body=body, slug=slug, cta=cta),
            "segment_id": segment_id,
            "ab": json.dumps(ab) if ab else None,
        },
    )
    people = workspace.query(
        "SELECT c.id AS contact_id, lower(c.email) AS email FROM segment_members m JOIN contacts c ON c.id = m.contact_id"
        " WHERE m.segment_id = ? AND c.email LIKE '%_@_%'"
        " AND lower(c.email) NOT IN (SELECT email FROM marketing_suppressions WHERE suppressed = 1) ORDER BY c.id",
        [segment_id],
    )
    people = [p for p in people if rng.random() < 0.97][:MAX_RECIPIENTS]
    row = get_campaign(workspace, row["id"])
    links = sending.ensure_links(workspace, row)
    versions = sending.variants(row)
    merged = contexts(workspace, [p["contact_id"] for p in people])
    template = sending.message_template(workspace, row)
    signer = tracking.signer(workspace)
    tested = set(rng.sample(range(len(people)), k=int(len(people) * 0.3))) if ab else set()
    outbox, recipients, events, activities, bounced = [], [], [], [], []
    for i, person in enumerate(people):
        cid = person["contact_id"]
        variant_no = (i % 2) if i in tested else (1 if ab else 0)
        phase = "test" if i in tested else ("rest" if ab else "all")
        sent_at = started + timedelta(minutes=i // 20, seconds=rng.randrange(60))
        message = sending.build_message(
            workspace,
            row,
            versions[variant_no],
            merged.get(cid, {}),
            contact_id=cid,
            to=person["email"],
            links=links,
            template=template,
            signer=signer,
        )
        hard = rng.random() < 0.015
        outbox.append(
            {
                "key": sending.outbox_key(row["id"], cid),
                "plugin": sending.PLUGIN,
                "ref_table": "campaigns",
                "ref_id": str(row["id"]),
                "contact_id": cid,
                "sender": "crm@localhost",
                "recipient": person["email"],
                "subject": str(message["Subject"]),
                "message_id": str(message["Message-ID"]),
                "message": message.as_string(),
                "status": "failed" if hard else "sent",
                "attempts": 1,
                "permanent": int(hard),
                "last_error": "the SMTP server refused permanently: 550 5.1.1 no such user" if hard else None,
                "queued_at": iso(started),
                "attempted_at": iso(sent_at),
                "sent_at": None if hard else iso(sent_at),
            }
        )
        recipients.append(
            {
                "campaign_id": row["id"],
                "contact_id": cid,
                "email": person["email"],
                "variant": variant_no,
                "phase": phase,
                "queued_at": iso(started),
            }
        )
        if hard:
            bounced.append((person["email"], cid, sent_at))
            continue
        boost = 1.25 if ab and variant_no == 1 else 1.0
        if rng.random() < 0.12:  # a security scanner fetches everything on arrival
            for kind in ("open", "click"):
                events.append(
                    _event(
                        row["id"],
                        cid,
                        variant_no,
                        kind,
                        sent_at + timedelta(seconds=2),
                        SCANNER_AGENT,
                        machine="scanner user agent (barracuda)",
                        url="https://example.com/blog" if kind == "click" else None,
                    )
                )
        if rng.random() < open_rate * boost:
            opened = sent_at + timedelta(minutes=rng.randrange(5, 60 * 48))
            events.append(_event(row["id"], cid, variant_no, "open", opened, rng.choice(HUMAN_AGENTS)))
            activities.append(_activity(cid, f"Opened “{name}”", opened))
            if rng.random() < click_rate / open_rate:
                clicked = opened + timedelta(seconds=rng.randrange(10, 600))
                url = f"https://example.com/{slug}"
                events.append(_event(row["id"], cid, variant_no, "click", clicked, rng.choice(HUMAN_AGENTS), url=url))
                activities.append(_activity(cid, f"Clicked a link in “{name}”", clicked, url))
            elif rng.random() < 0.03:
                gone = opened + timedelta(minutes=2)
                events.append(_event(row["id"], cid, variant_no, "unsubscribe", gone, rng.choice(HUMAN_AGENTS)))
    options = bulk(size)
    store = workspace.store
    ids = store.insert_many("mail_outbox", outbox, **options)
    for recipient, outbox_id in zip(recipients, ids, strict=True):
        recipient["outbox_id"] = outbox_id
    store.insert_many("campaign_recipients", recipients, **options)
    store.insert_many("marketing_events", sorted(events, key=lambda e: e["at"]), **options)
    store.insert_many("activities", activities, **options)
    gone = [e for e in events if e["kind"] == "unsubscribe"]
    if gone:  # an unsubscribe withdrew their consent (a withdrawal is an ordinary update; re-granting is not)
        store.update_many(
            "contacts",
            [
                (
                    e["contact_id"],
                    {"marketing_consent": 0, "consent_source": "unsubscribe link", "consent_at": e["at"]},
                    None,
                )
                for e in gone
            ],
        )
    by_key = {o["key"]: i for o, i in zip(outbox, ids, strict=True)}
    for email, cid, when in bounced:
        store.insert(
            "marketing_suppressions",
            {
                "email": email,
                "contact_id": cid,
                "reason": "hard bounce",
                "detail": "550 5.1.1 no such user",
                "suppressed": 1,
                "at": iso(when),
            },
        )
        store.insert(
            "marketing_events",
            {
                "at": iso(when),
                "contact_id": cid,
                "campaign_id": row["id"],
                "kind": "bounce",
                "machine": 0,
                "reason": "hard: 550 5.1.1 no such user",
                "outbox_id": by_key[sending.outbox_key(row["id"], cid)],
            },
        )
    finished = started + timedelta(minutes=len(people) // 20 + 1)
    changes: dict[str, Any] = {"status": "sent", "started_at": iso(started), "sent_at": iso(finished)}
    if ab:
        results = sending.results(workspace, row["id"])
        winner = max(results, key=lambda r: (r["open_rate"], -r["variant"]))["variant"] if results else 0
        ab.update(
            phase="decided",
            winner=winner,
            rest_queued=True,
            test_started_at=iso(started),
            decided_at=iso(started + timedelta(hours=4)),
            results=[{k: r[k] for k in ("variant", "recipients", "opens", "clicks")} for r in results],
        )
        changes["ab"] = json.dumps(ab)
    store.update("campaigns", row["id"], changes)


def _event(campaign_id, contact_id, variant, kind, at: datetime, agent, *, machine=None, url=None) -> dict:
    return {
        "at": iso(at),
        "contact_id": contact_id,
        "campaign_id": campaign_id,
        "variant": variant,
        "kind": kind,
        "url": url,
        "ip": f"203.0.113.{contact_id % 250 + 1}",
        "user_agent": agent,
        "machine": int(bool(machine)),
        "reason": machine,
    }


def _activity(contact_id: int, subject: str, at: datetime, body: str | None = None) -> dict:
    return {
        "kind": "email",
        "channel": "email",
        "subject": subject,
        "body": body,
        "contact_id": contact_id,
        "occurred_at": iso(at),
        "done": 1,
    }


def _form(workspace: Workspace, rng: random.Random, size, now: datetime) -> None:
    """The newsletter form and its confirmed sign-ups (people who already gave consent by a web form)."""
    signups = save_segment(workspace, "Newsletter sign-ups", kind="static", description="Confirmed via /f/newsletter.")
    form = save_form(
        workspace,
        {
            "slug": "newsletter",
            "title": "The Northwind newsletter",
            "intro": "One e-mail a month: product news and practical tips.",
            "segment_id": signups["id"],
        },
    )
    people = workspace.query(
        "SELECT id, lower(email) AS email, first_name, last_name, consent_at FROM contacts"
        " WHERE consent_source = 'web form newsletter' AND marketing_consent = 1 ORDER BY id LIMIT 200"
    )
    submissions, events = [], []
    for person in people:
        at = person["consent_at"] or iso(now - timedelta(days=rng.randrange(1, 300)))
        submissions.append(
            {
                "form_id": form["id"],
                "email": person["email"],
                "first_name": person["first_name"],
                "last_name": person["last_name"],
                "contact_id": person["id"],
                "submitted_at": at,
                "confirmed_at": at,
                "ip": "198.51.100.7",
                "user_agent": HUMAN_AGENTS[0],
            }
        )
        events.append(
            {
                "at": at,
                "contact_id": person["id"],
                "kind": "signup",
                "form_id": form["id"],
                "machine": 0,
                "user_agent": HUMAN_AGENTS[0],
                "ip": "198.51.100.7",
            }
        )
    for _ in range(max(2, len(people) // 10)):  # never confirmed
        submissions.append(
            {
                "form_id": form["id"],
                "email": f"pending{rng.randrange(10**6)}@example.net",
                "submitted_at": iso(now - timedelta(days=rng.randrange(1, 30))),
            }
        )
    workspace.store.insert_many("form_submissions", submissions, **bulk(size))
    workspace.store.insert_many("marketing_events", sorted(events, key=lambda e: e["at"]), **bulk(size))
    add_members(workspace, signups["id"], [p["id"] for p in people])
