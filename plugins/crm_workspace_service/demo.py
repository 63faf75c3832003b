"""The service module's demo: a help desk's last 90 days (tickets, threads, history, a few breaches).

Customers write in (mostly e-mail), agents answer within or past the SLA, tickets wait on the
customer, get solved, some reopen; the recent ones are still open, a few past their target.
The SLA columns are computed with the same pure function a live ticket uses.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING

from crm_workspace.services.demo import bulk, demo_today, iso

from .rules import load_policies, sla_columns
from .schema import OPEN_STATUSES
from .sla import Event, add_business_minutes, sla_state

if TYPE_CHECKING:
    from crm_workspace import Workspace

TOPICS = [
    (
        "billing",
        "Invoice {n} shows the wrong amount",
        "Hello, our invoice {n} charges us for 12 seats but we only have 9. Can you correct it?",
    ),
    (
        "billing",
        "Refund for duplicate payment",
        "We were charged twice this month (card ending 4421). Please refund one of the payments.",
    ),
    (
        "billing",
        "Change of billing address",
        "Please send future invoices to our new office address; the old one is closing.",
    ),
    (
        "tech",
        "Cannot log in after password reset",
        "Since resetting my password this morning the login page says my account is locked.",
    ),
    (
        "tech",
        "Export to Excel times out",
        "Exporting the contacts list to Excel spins for minutes and then fails with a timeout.",
    ),
    ("tech", "Sync with calendar stopped", "Meetings no longer appear in our shared calendar since Tuesday."),
    (
        "tech",
        "Error 500 when saving a report",
        "Saving the monthly report gives an internal error. Screenshot attached.",
    ),
    (
        "tech",
        "API returns 401 with a valid token",
        "Our integration gets 401 Unauthorized although the token was created yesterday.",
    ),
    ("accounts", "Add three users to our account", "We hired three people; please add them with member rights."),
    ("accounts", "Cancel our trial", "We decided not to continue after the trial; please cancel and delete our data."),
    (
        "accounts",
        "Upgrade to the annual plan",
        "We'd like to move to the annual plan from next month. What are the steps?",
    ),
    ("tech", "Slow dashboard in the mornings", "Between 8 and 10 the dashboard takes 20 seconds to open."),
]
REPLIES = [
    "Thanks for reaching out, {first}. I'm looking into this now and will update you shortly.",
    "Hi {first}, thanks for the details. Could you tell us which browser and version you use?",
    "Hi {first}, we found the cause and deployed a fix. Could you check on your side?",
    "Hello {first}, done: the change is in place. Let us know if anything else comes up.",
]
FOLLOW_UPS = [
    "Thanks, it works now.",
    "We use Firefox 133 on Windows 11.",
    "Still the same here, sorry.",
    "Great, thank you!",
]
MACROS = [
    (
        "Ask for details",
        'Hi {{ first_name | default("there") }},\n\nthanks for writing. Could you send us a screenshot and the time it happened?\n\n{{ agent }}',
        "pending",
    ),
    (
        "Solved, anything else?",
        'Hi {{ first_name | default("there") }},\n\nthis is fixed on our side (ticket #{{ ticket.id }}). Reply to this e-mail if anything is still wrong.\n\n{{ agent }}',
        "solved",
    ),
    (
        "Refund issued",
        'Hi {{ first_name | default("there") }},\n\nwe issued the refund today; it shows on your statement within 5 business days.\n\n{{ agent }}',
        "solved",
    ),
]
NOTES = [
    "Billing confirmed the double charge.",
    "Reproduced on staging.",
    "Escalated to engineering.",
    "Customer is on the annual plan.",
]


def add_demo_tickets(workspace: Workspace, seed: int, size: Mapping[str, int], today: str | None) -> None:
    store = workspace.store
    rng = random.Random(seed + 20)
    now = demo_today(today)
    policies = load_policies(store)
    if not policies:
        return
    policy = policies[min(policies)]
    contacts = store.query(
        "SELECT id, first_name, email, organization_id FROM contacts WHERE stakeholder_type IN ('customer', 'partner')"
        " AND email IS NOT NULL ORDER BY id"
    ) or store.query("SELECT id, first_name, email, organization_id FROM contacts WHERE email IS NOT NULL ORDER BY id")
    agents = [
        r["username"] for r in store.query("SELECT username FROM users WHERE role != 'viewer' ORDER BY rowid")
    ] or ["ana"]
    if not contacts:
        return
    # 0.7 tickets a contact over 90 days, at most 20,000 (a 1M-contact benchmark demo stays quick)
    count = size.get("tickets") or max(20, min(20_000, round(size.get("contacts", 300) * 0.7)))
    tickets, histories, threads = [], [], []
    for n in range(count):
        requester = rng.choice(contacts)
        team, subject, body = rng.choice(TOPICS)
        age_days = rng.random() ** 1.6 * 90
        created = now - timedelta(days=age_days, minutes=rng.randrange(0, 600))
        priority = rng.choices(["low", "normal", "high", "urgent"], [2, 6, 2, 1])[0]
        channel = rng.choices(["email", "web", "phone", "chat"], [6, 2, 1, 1])[0]
        target = policy.target("first_response", priority) or 480
        reply_at = (
            add_business_minutes(policy.calendar, created, target * rng.uniform(0.05, 1.15))
            if age_days > 3 or rng.random() < 0.7
            else None
        )
        if reply_at and reply_at > now:
            reply_at = None
        events = [Event(created, "new", priority, policy)]
        messages = [("inbound", created, body.format(n=f"INV-{4000 + n}"), None)]
        assignee = rng.choice(agents) if rng.random() < 0.9 else None
        if reply_at:
            waiting = rng.random() < 0.5
            events.append(Event(reply_at, "pending" if waiting else "open", priority, policy))
            messages.append(
                (
                    "public",
                    reply_at,
                    rng.choice(REPLIES).format(first=requester["first_name"] or "there"),
                    assignee or agents[0],
                )
            )
            moment = reply_at + timedelta(hours=rng.uniform(1, 40))
            if rng.random() < 0.5 and moment < now:
                messages.append(("note", moment - timedelta(minutes=30), rng.choice(NOTES), assignee or agents[0]))
                if waiting:
                    messages.append(("inbound", moment, rng.choice(FOLLOW_UPS), None))
                    events.append(Event(moment, "open", priority, policy))
            solve = moment + timedelta(hours=rng.uniform(0.5, 30))
            if solve < now and age_days > 2 and rng.random() < 0.97:
                events.append(Event(solve, "solved", priority, policy))
                messages.append(
                    (
                        "public",
                        solve - timedelta(minutes=5),
                        REPLIES[3].format(first=requester["first_name"] or "there"),
                        assignee or agents[0],
                    )
                )
                if rng.random() < 0.06 and solve + timedelta(days=1) < now:
                    back = solve + timedelta(days=1)
                    messages.append(("inbound", back, "It broke again, sorry.", None))
                    events.append(Event(back, "open", priority, policy))
                    if back + timedelta(hours=5) < now:
                        events.append(Event(back + timedelta(hours=5), "solved", priority, policy))
                elif solve + timedelta(days=4) < now:
                    events.append(Event(solve + timedelta(days=4), "closed", priority, policy))
        status = events[-1].status
        state = sla_state(events, now, first_reply_at=reply_at)
        solved_at = (
            next((e.at for e in reversed(events) if e.status == "solved"), None)
            if status in ("solved", "closed")
            else None
        )
        tickets.append(
            {
                "subject": subject.format(n=f"INV-{4000 + n}"),
                "description": messages[0][2],
                "requester_id": requester["id"],
                "organization_id": requester["organization_id"],
                "priority": priority,
                "status": status,
                "assignee": assignee,
                "team": team,
                "channel": channel,
                "tags": json.dumps([team] + (["vip"] if rng.random() < 0.1 else [])),
                "sla_policy_id": policy.id,
                "first_response_at": iso(reply_at) if reply_at else None,
                "solved_at": iso(solved_at) if solved_at else None,
                "closed_at": iso(events[-1].at) if status == "closed" else None,
                "last_message_at": iso(max(m[1] for m in messages)),
                "is_open": int(status in OPEN_STATUSES),
                "reopened": sum(
                    1 for a, b in itertools.pairwise(events) if a.status == "solved" and b.status == "open"
                ),
                "created_at": iso(created),
                **sla_columns(state, status),
            }
        )
        # breaches of the past were escalated back then: the first tick does not page everyone at once
        tickets[-1]["escalated_at"] = tickets[-1]["sla_due_at"] if tickets[-1]["sla_breached"] else None
        histories.append(events)
        threads.append((requester, messages))
    ids = store.insert_many("tickets", tickets, **bulk(size))
    store.insert_many(
        "service_macros",
        [{"name": n, "body": b, "kind": "public", "set_status": st} for n, b, st in MACROS],
        **bulk(size),
    )
    _stray_reply(workspace, rng, ids, tickets, now, size)
    store.insert_many(
        "ticket_status_history",
        (
            {
                "ticket_id": tid,
                "at": iso(e.at),
                "from_status": prev.status if prev else None,
                "to_status": e.status,
                "priority": e.priority,
                "sla_policy_id": policy.id,
                "by": "system:demo" if i == 0 else None,
            }
            for tid, events in zip(ids, histories, strict=True)
            for i, (prev, e) in enumerate(zip([None, *events], events, strict=False))
        ),
        **bulk(size),
    )
    store.insert_many(
        "ticket_messages",
        (
            {
                "ticket_id": tid,
                "kind": kind,
                "author": author,
                "author_contact_id": requester["id"] if kind == "inbound" else None,
                "sender": requester["email"] if kind == "inbound" else None,
                "body_text": text,
                "created_at": iso(at),
                "placed_by": ("new" if i == 0 else "header") if kind == "inbound" else None,
                "send_status": "sent" if kind == "public" else None,
                "message_id": f"<demo-{tid}-{i}@example.com>" if kind != "note" else None,
            }
            for tid, (requester, messages) in zip(ids, threads, strict=True)
            for i, (kind, at, text, author) in enumerate(sorted(messages, key=lambda m: m[1]))
        ),
        **bulk(size),
    )


def _stray_reply(workspace: Workspace, rng: random.Random, ids: list[int], tickets: list[dict], now, size) -> None:
    """One reply from an address that is not the requester's, waiting in the merge queue."""
    store = workspace.store
    open_ones = [(tid, t) for tid, t in zip(ids, tickets, strict=True) if t["is_open"]]
    if not open_ones:
        return
    target, ticket = rng.choice(open_ones)
    at = iso(now - timedelta(hours=3))
    (stray,) = store.insert_many(
        "tickets",
        [
            {
                "subject": "Re: " + ticket["subject"],
                "description": "Writing from my private address: any news on this?",
                "priority": "normal",
                "status": "new",
                "channel": "email",
                "flag": f"possible reply to #{target} from another address",
                "merge_candidate_id": target,
                "is_open": 1,
                "sla_sort": "9999-12-31T00:00:00Z",
                "created_at": at,
                "last_message_at": at,
            }
        ],
        **bulk(size),
    )
    store.insert_many(
        "ticket_status_history",
        [{"ticket_id": stray, "at": at, "to_status": "new", "priority": "normal", "by": "system:demo"}],
        **bulk(size),
    )
    store.insert_many(
        "ticket_messages",
        [
            {
                "ticket_id": stray,
                "kind": "inbound",
                "sender": "someone.private@mail.example",
                "body_text": "Writing from my private address: any news on this?",
                "placed_by": "header-unverified",
                "message_id": f"<demo-stray-{stray}@mail.example>",
                "created_at": at,
            }
        ],
        **bulk(size),
    )
