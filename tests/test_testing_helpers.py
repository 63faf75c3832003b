"""crm_workspace.testing: a workspace copied from a migrated template is the one a fresh open makes."""

from __future__ import annotations

from crm_workspace import Workspace, hookimpl
from crm_workspace.testing import make_workspace


def schema_of(ws: Workspace) -> list[tuple]:
    return [tuple(row.values()) for row in ws.store.query("SELECT type, name, sql FROM sqlite_master ORDER BY name")]


def migrations_of(ws: Workspace) -> list[tuple]:
    rows = ws.store.query("SELECT migration_set, name FROM _sqlite_migrations ORDER BY migration_set, name")
    return [tuple(row.values()) for row in rows]


def test_a_copied_workspace_has_the_schema_a_fresh_open_makes(tmp_path):
    fresh = Workspace.open(tmp_path / "fresh.db", user="tester", builtins_only=True)
    copied = make_workspace(tmp_path / "copied.db")
    assert schema_of(copied) == schema_of(fresh)
    assert migrations_of(copied) == migrations_of(fresh)
    assert copied.store.query("PRAGMA journal_mode")[0]["journal_mode"] == "wal"


def test_each_new_workspace_is_a_file_of_its_own(tmp_path):
    first = make_workspace(tmp_path / "one.db")
    first.store.insert("organizations", {"name": "Acme"})
    second = make_workspace(tmp_path / "two.db")
    assert second.store.scalar("SELECT count(*) FROM organizations") == 0
    assert first.store.scalar("SELECT count(*) FROM organizations") == 1


def test_an_existing_file_is_opened_not_replaced(tmp_path):
    path = tmp_path / "crm.db"
    ws = make_workspace(path)
    ws.store.insert("organizations", {"name": "Acme"})
    ws.close()
    assert make_workspace(path).store.scalar("SELECT count(*) FROM organizations") == 1


def test_the_allow_list_gets_its_own_template(tmp_path, monkeypatch):
    everything = migrations_of(make_workspace(tmp_path / "all.db"))
    monkeypatch.setenv("CRM_PLUGINS", "pipeline")
    only_pipeline = migrations_of(make_workspace(tmp_path / "pipeline.db"))
    assert {name for name, _ in only_pipeline} == {"crm_workspace.core", "crm_workspace.pipeline"}
    assert set(only_pipeline) < set(everything)


def test_demo_data_is_generated_with_the_extra_plugins(tmp_path):
    seen: list[int] = []

    class Seeds:
        @hookimpl
        def crm_demo_data(self, workspace, seed, scale):
            seen.append(seed)

    ws = make_workspace(tmp_path / "crm.db", demo=True, seed=7, contacts=30, plugins=(Seeds(),))
    assert seen == [7]
    assert ws.store.scalar("SELECT count(*) FROM contacts") > 0
