"""Believable demo ages: a minority of open deals Rotting or Overdue; the rules and surveys settled up to today."""

from __future__ import annotations


def test_a_believable_minority_of_board_cards_is_rotting_or_overdue(demo_workspace):
    cards = demo_workspace.df("pipeline.cards")
    open_cards = cards[~cards["stage"].isin(["won", "lost"])]
    assert len(open_cards) >= 30
    flagged = (open_cards["rotting"] | open_cards["overdue"]).mean()
    assert 0.05 <= flagged <= 0.25, f"{flagged:.0%} of the open cards are flagged"
    assert open_cards["rotting"].any() and open_cards["overdue"].any()  # the badges still show up
    # a card's age reads like a live pipeline's: most moved stage within the last month
    assert (open_cards["days_in_stage"] <= 30).mean() >= 0.75
    moved = demo_workspace.query("SELECT count(*) AS n FROM deals WHERE stage_changed_at IS NULL")
    assert moved[0]["n"] == 0


def test_the_demos_first_tick_finds_nothing_due_that_the_demo_left_undone(demo_db, smtpd):
    """The time rule and this period's NPS survey already ran up to demo_today(): a first tick
    (the served demo's, seconds after start) used to create a dozen tasks and survey 28 customers."""
    import os
    import subprocess
    import sys
    from datetime import timedelta
    from pathlib import Path

    from crm_workspace import Workspace
    from crm_workspace.services.demo import demo_today, iso
    from crm_workspace.testing import configure_smtp

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH") or f"{root}:{root / 'plugins'}"}

    def tick(now) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "crm_workspace", "--db", str(demo_db), "--user", "ana", "tick", "--now", iso(now)],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr

    ws = Workspace.open(demo_db, user="ana")
    configure_smtp(ws, smtpd.port)
    today = demo_today()  # the template was made today (at worst just before 09:00 turned it into tomorrow)
    if not ws.store.scalar("SELECT 1 FROM rule_runs WHERE at <= ? LIMIT 1", [iso(today)]):
        today -= timedelta(days=1)

    def counts():
        return (
            ws.store.scalar("SELECT count(*) FROM activities WHERE kind = 'task'"),
            # runs the ticks made (their retention may drop the demo's superseded old runs meanwhile)
            ws.store.scalar("SELECT count(*) FROM rule_runs WHERE at > ?", [iso(today)]),
            ws.store.scalar("SELECT count(*) FROM mail_outbox WHERE plugin = 'surveys'"),
        )

    before = counts()
    tick(today + timedelta(minutes=1))
    assert counts() == before  # nothing new: no burst of tasks, nobody surveyed twice
    runs = ws.store.scalar("SELECT count(*) FROM rule_runs WHERE status = 'ok'")
    nps = ws.store.scalar("SELECT count(*) FROM mail_outbox WHERE plugin = 'surveys' AND status = 'sent'")
    assert runs >= 10 and nps >= 20  # the demo shows the rule's and the survey's history instead
    assert smtpd.messages == []
    tick(today + timedelta(days=91))  # a quarter on: quiet leads are due again, and the next NPS period
    tasks, rule_runs, surveyed = counts()
    assert tasks > before[0] and rule_runs > before[1] and surveyed > before[2] and smtpd.messages
    ws.close()
