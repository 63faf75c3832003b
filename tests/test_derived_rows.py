"""Rows derived from a write (append_derived): the fast path for them, and only for them."""

from __future__ import annotations

import pytest

from crm_workspace import CrmError, PermissionDenied
from crm_workspace.data.derived import append_derived


def test_outside_a_hook_it_is_insert_many_with_its_checks(workspace):
    for name, role in (("tester", "admin"), ("mallory", "member")):
        workspace.store.insert("users", {"username": name, "role": role, "active": 1})
    member = workspace.as_user("mallory")
    with pytest.raises(PermissionDenied):
        append_derived(member.store, "contacts", [{"first_name": "Unaudited"}])


def test_inside_a_hook_rows_commit_and_roll_back_with_the_write(workspace, monkeypatch):
    notes = "SELECT subject FROM activities WHERE kind = 'note' AND subject LIKE 'derived %'"
    plugin_host = workspace.store.actor.hooks
    real = plugin_host.record_changed

    def record_changed(changes):
        real(changes)
        derived = [{"kind": "note", "subject": f"derived {c.table} {c.id}"} for c in changes if c.table == "contacts"]
        append_derived(workspace.store, "activities", derived)
        if any((c.after or {}).get("first_name") == "Boom" for c in changes):
            raise CrmError("refused")

    monkeypatch.setattr(plugin_host, "record_changed", record_changed)
    row = workspace.store.insert("contacts", {"first_name": "Ada", "last_name": "L"})
    assert workspace.store.query(notes) == [{"subject": f"derived contacts {row['id']}"}]
    with pytest.raises(CrmError):
        workspace.store.insert("contacts", {"first_name": "Boom", "last_name": "L"})
    assert len(workspace.store.query(notes)) == 1  # rolled back with the write

    def bad(changes):
        append_derived(workspace.store, "activities", [{"subject]) VALUES (1); DROP TABLE contacts; --": 1}])

    monkeypatch.setattr(plugin_host, "record_changed", bad)
    with pytest.raises(CrmError, match="no column"):
        workspace.store.insert("contacts", {"first_name": "Eve", "last_name": "L"})
