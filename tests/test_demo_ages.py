"""Believable demo ages: only a minority of the open deals on the board are Rotting or Overdue."""

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
