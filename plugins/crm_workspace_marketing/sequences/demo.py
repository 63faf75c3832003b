"""Demo sequences: a welcome series with people at each step, its run history, and a paused one."""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from crm_workspace.services.demo import bulk, demo_today, iso

from .model import save_sequence

if TYPE_CHECKING:
    from crm_workspace import Workspace

WELCOME = [
    {
        "kind": "email",
        "args": {
            "subject": "Welcome, {{ first_name | default('there', true) }}",
            "html": "<p>Hello {{ first_name | default('there', true) }},</p><p>thanks for your interest. "
            "Here is how teams like {{ organization | default('yours', true) }} get started: "
            '<a href="https://example.com/start">the five-minute tour</a>.</p>',
        },
    },
    {"kind": "wait", "args": {"days": 3}},
    {"kind": "branch", "args": {"on": "opened", "within_days": 2, "yes": 3, "no": 4}},
    {"kind": "task", "args": {"title": "Call {{ first_name }}: read the welcome e-mail", "due_days": 1, "then": 5}},
    {
        "kind": "email",
        "args": {
            "subject": "Did you get a chance to look, {{ first_name | default('there', true) }}?",
            "text": "Hello {{ first_name | default('there', true) }},\n\nthe tour takes five minutes: "
            "https://example.com/start\n\nJust reply if you have a question.",
        },
    },
]
EVENT = [
    {
        "kind": "email",
        "args": {
            "subject": "Thanks for coming, {{ first_name | default('friend', true) }}",
            "text": "Slides: https://example.com/slides",
        },
    },
    {"kind": "wait", "args": {"days": 7}},
    {"kind": "set_stage", "args": {"stage": "marketing_qualified"}},
]


def add_demo(workspace: Workspace, seed: int, size: Mapping[str, int], today: str | None) -> None:
    rng = random.Random(seed + 1919)
    now = demo_today(today)
    stages = workspace.lifecycle_stages()
    if "lead" not in stages:
        return
    welcome = save_sequence(
        workspace,
        {
            "name": "Welcome series",
            "description": "New leads: a welcome, a nudge, and a call for those who read it.",
            "trigger_kind": "lifecycle_stage",
            "trigger_args": {"stage": "lead"},
            "exit_on": ["replied", "became_customer", "unsubscribed"],
        },
        WELCOME,
    )
    if "marketing_qualified" in stages:
        save_sequence(
            workspace,
            {
                "name": "Event follow-up",
                "trigger_kind": "tag_added",
                "trigger_args": {"tag": "event-2026"},
                "exit_on": ["replied", "unsubscribed"],
                "status": "paused",
            },
            EVENT,
        )
    people = workspace.query(
        "SELECT id, lifecycle_stage FROM contacts WHERE email LIKE '%_@_%' AND id NOT IN"
        " (SELECT contact_id FROM sequence_enrollments) ORDER BY coalesce(marketing_consent, 0) = 1 DESC, id LIMIT 40"
    )
    enrollments: list[dict[str, Any]] = []
    runs: list[tuple[int, int, str, str, str, Any]] = []  # (person index, step, action, outcome, detail, at)
    for i, person in enumerate(people):
        start = now - timedelta(days=rng.randint(0, 20), hours=rng.randint(0, 8))
        state = rng.choices(["due", "waiting", "branch", "completed", "exited", "failed"], [2, 6, 3, 6, 3, 1])[0]
        step, status, reason, nxt = 0, "active", None, iso(now)
        history = [(0, "email", "ok", "queued “Welcome”", start)]
        # nothing comes due before a day after the demo's "today" (>= the real now): a test's tick sends nothing
        later = now + timedelta(hours=25)
        if state == "due":
            history, nxt = [], iso(later + timedelta(minutes=rng.randint(1, 50)))
        elif state == "waiting":
            step, nxt = 2, iso(later + timedelta(days=rng.randint(0, 2), hours=rng.randint(1, 20)))
            history.append((1, "wait", "ok", "wait 3 days", start))
        elif state == "branch":
            step, nxt = 2, iso(later + timedelta(hours=rng.randint(1, 40)))
            history += [(1, "wait", "ok", "wait 3 days", start), (2, "branch", "waiting", "no open yet", now)]
        elif state == "completed":
            step, status, nxt = 5, "completed", None
            opened = rng.random() < 0.5
            history += [
                (1, "wait", "ok", "wait 3 days", start),
                (2, "branch", "ok", "opened: yes → step 3" if opened else "not opened within 2 d → step 4", start),
                (3, "task", "ok", "task for the owner", start)
                if opened
                else (4, "email", "ok", "queued “Nudge”", start),
                (5, "complete", "ok", "", start),
            ]
        elif state == "exited":
            step, status, nxt = 2, "exited", None
            reason = rng.choice(["became customer", "replied", "unsubscribed"])
            history.append((2, "exit", "exited", reason, start + timedelta(days=2)))
        else:
            status, nxt, reason = "failed", None, "step 0 failed: HTML: 'dict object' has no attribute 'city'"
            history = [
                (0, "step", "failed", f"attempt {n}/3: HTML: 'dict object' has no attribute 'city'", start)
                for n in (1, 2, 3)
            ]
        enrollments.append(
            {
                "sequence_id": welcome["id"],
                "contact_id": person["id"],
                "current_step": step,
                "next_run_at": nxt,
                "step_started_at": iso(start),
                "status": status,
                "exit_reason": reason,
                "enrolled_at": iso(start),
                "attempts": 3 if status == "failed" else 0,
            }
        )
        offsets = {1: 3, 2: 3, 3: 5, 4: 5, 5: 5}
        runs += [(i, s, a, o, d, at + timedelta(days=offsets.get(s, 0))) for s, a, o, d, at in history]
    if not enrollments:
        return
    ids = workspace.store.insert_many("sequence_enrollments", enrollments, **bulk(size))
    rows = [
        {
            "enrollment_id": ids[i],
            "sequence_id": welcome["id"],
            "contact_id": people[i]["id"],
            "step": s,
            "action": a,
            "outcome": o,
            "detail": d or None,
            "at": iso(min(at, now)),
        }
        for i, s, a, o, d, at in runs
    ]
    workspace.store.insert_many("sequence_runs", sorted(rows, key=lambda r: r["at"]), **bulk(size))
