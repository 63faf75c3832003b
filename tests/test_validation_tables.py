"""``crm_validate_record.tables``: an implementation that declares its tables is left out of other tables' checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from crm_workspace import ValidationError, Workspace, hookimpl
from crm_workspace.testing import registered


class OrganizationsOnly:
    def __init__(self):
        self.tables: list[str] = []

    @hookimpl
    def crm_validate_record(self, workspace, table, record, before):
        self.tables.append(table)
        if table == "organizations" and record.get("name") == "Refused":
            return {"name": "refused by the plugin"}
        return None

    crm_validate_record.tables = ("organizations",)


class Everywhere(OrganizationsOnly):
    @hookimpl
    def crm_validate_record(self, workspace, table, record, before):
        self.tables.append(table)


@pytest.fixture
def ws(tmp_path: Path):
    ws = Workspace.open(tmp_path / "crm.db", user="ana", builtins_only=True)
    yield ws
    ws.close()


def test_a_declared_implementation_checks_its_tables_only(ws: Workspace):
    only, everywhere = OrganizationsOnly(), Everywhere()
    with registered(ws, only, name="only"), registered(ws, everywhere, name="everywhere"):
        ws.store.insert("contacts", {"first_name": "Ada"})
        ws.store.insert_many("contacts", [{"first_name": "Bo"}, {"first_name": "Cy"}])
        ws.store.insert("organizations", {"name": "Acme"})
        with pytest.raises(ValidationError, match="refused by the plugin"):
            ws.store.insert("organizations", {"name": "Refused"})
    assert only.tables == ["organizations", "organizations"]
    assert everywhere.tables == ["contacts", "contacts", "contacts", "organizations", "organizations"]


def test_every_built_in_declaration_is_true_to_its_implementation(ws: Workspace):
    tables = [name for name in ws.store.db.table_names() if not name.startswith("_")] + ["somewhere_else"]
    declared = [impl for impl in ws.pm.hook.crm_validate_record.get_hookimpls() if hasattr(impl.function, "tables")]
    assert len(declared) >= 10
    for impl in declared:
        assert set(impl.function.tables) <= set(tables), impl.plugin_name
        for table in set(tables) - set(impl.function.tables):
            assert impl.function(workspace=ws, table=table, record={"x": " y "}, before=None) is None, table
