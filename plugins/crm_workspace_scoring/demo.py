"""The scoring demo: the suggested rules, everyone scored, and a model trained on the demo's history."""

from __future__ import annotations

from collections.abc import Mapping

from crm_workspace.services.demo import bulk

from . import engine, learn, rules

#: Above this many contacts the demo stores the rules only: scoring a million contacts and
#: training on them would add half a minute to a benchmark's demo; ``crm scoring rescore``
#: (or the scheduler's refresh) scores them when wanted.
SCORE_UP_TO = 20_000


def add_demo_scoring(workspace, size: Mapping[str, int], today: str | None) -> None:
    store = workspace.store
    store.insert_many("score_rules", (rules.suggested_row(r) for r in rules.SUGGESTED), **bulk(size))
    if size["contacts"] > SCORE_UP_TO:
        return
    try:
        learn.train(workspace, fast=True)  # storing the model rescores everyone (crm_record_changed)
    except learn.NotEnoughHistory:
        engine.rescore(workspace)
