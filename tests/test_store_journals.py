"""An all-or-nothing bulk write keeps its statements' journals in memory, and puts temp_store back."""

from __future__ import annotations


def _temp_store(ws) -> int:
    return ws.store.conn.execute("PRAGMA temp_store").fetchone()[0]


def test_a_flat_transaction_journals_in_memory_and_restores_the_setting(workspace):
    before = _temp_store(workspace)
    assert before != 2
    with workspace.store.transaction(savepoints=False):
        assert _temp_store(workspace) == 2
        workspace.store.insert_many("contacts", [{"first_name": f"A{i}", "last_name": "B"} for i in range(600)])
    assert _temp_store(workspace) == before
    with workspace.store.transaction():  # an ordinary write keeps the setting
        assert _temp_store(workspace) == before
    assert workspace.store.scalar("SELECT count(*) FROM contacts WHERE last_name = 'B'") == 600


def test_a_failed_bulk_write_restores_the_setting_too(workspace):
    before = _temp_store(workspace)
    try:
        with workspace.store.transaction(savepoints=False):
            workspace.store.insert_many("contacts", [{"first_name": "A", "last_name": "B"}])
            raise RuntimeError("stop")
    except RuntimeError:
        pass
    assert _temp_store(workspace) == before
    assert workspace.store.scalar("SELECT count(*) FROM contacts WHERE last_name = 'B'") == 0
