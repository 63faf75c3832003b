"""crm_workspace.data.shared.UntilChanged: one result for every session until a commit or a new stamp."""

from __future__ import annotations

import sqlite3

from crm_workspace import Workspace
from crm_workspace.data.shared import UntilChanged


def test_a_result_is_kept_until_any_connection_commits_or_the_stamp_changes(workspace: Workspace):
    shared = UntilChanged(size=2)
    computed = []

    def compute() -> list:
        computed.append(1)
        return [len(computed)]

    first = shared.get(workspace.store, "kpis", compute, stamp=1)
    other_session = workspace.as_user(workspace.user)
    assert shared.get(other_session.store, "kpis", compute, stamp=1) is first  # another session: the same result
    assert computed == [1]
    assert shared.get(workspace.store, "kpis", compute, stamp=2) == [2]  # the clock moved on
    workspace.store.insert("organizations", {"name": "Acme"})  # this connection's own commit
    assert shared.get(workspace.store, "kpis", compute, stamp=2) == [3]
    with sqlite3.connect(workspace.path) as other:  # another connection's (another process's) commit
        other.execute("UPDATE organizations SET city = 'Lyon'")
    other.close()
    assert shared.get(workspace.store, "kpis", compute, stamp=2) == [4]
    assert shared.get(workspace.store, "kpis", compute, stamp=2) == [4]


def test_only_the_most_recently_used_keys_are_kept(workspace: Workspace):
    shared = UntilChanged(size=2)
    for key in ("a", "b", "a", "c"):  # "b" is the least recently used when "c" comes
        shared.get(workspace.store, key, lambda key=key: key.upper())
    assert shared.get(workspace.store, "a", lambda: "again") == "A"
    assert shared.get(workspace.store, "b", lambda: "again") == "again"
    shared.clear()
    assert shared.get(workspace.store, "a", lambda: "cleared") == "cleared"
