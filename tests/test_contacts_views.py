"""Contacts pages in Python, without a server: record sections by key, widgets bound to models."""

from __future__ import annotations

import pytest

from crm_workspace import RecordSection, hookimpl
from crm_workspace.testing import make_workspace

pytest.importorskip("panel")


class DealsLookalike:
    """A third-party plugin whose sections happen to be titled like the built-ins'."""

    @hookimpl
    def crm_record_sections(self, workspace, table, record_id):
        return [RecordSection("Deals", lambda: "nps deals"), RecordSection("Relationships", lambda: "nps people")]


@pytest.fixture
def ws(tmp_path):
    workspace = make_workspace(tmp_path / "crm.db")
    yield workspace
    workspace.close()


def contact_with_a_deal_and_a_relationship(ws) -> int:
    a = ws.store.insert("contacts", {"first_name": "Ada", "last_name": "Lovelace"})
    b = ws.store.insert("contacts", {"first_name": "Charles", "last_name": "Babbage"})
    ws.store.insert("deals", {"title": "Engine", "contact_id": a["id"], "amount": 5})
    ws.store.insert(
        "relationships",
        {"source_type": "contacts", "source_id": a["id"], "target_type": "contacts", "target_id": b["id"],
         "kind": "works_with"},
    )  # fmt: skip
    return a["id"]


def own_lists_text(record) -> str:
    from crm_workspace.testing import page_text

    return page_text(record._deals_view())


def test_record_sections_carry_keys_derived_when_missing(ws):
    ws.register(DealsLookalike(), name="nps")
    keys = {s.key for s in ws.record_sections("contacts", 1)}
    assert {"pipeline.deals", "relationships.list", "nps.deals", "nps.relationships"} <= keys
    assert RecordSection("Deals", lambda: None).key == ""  # derived only once the plugin is known
    assert RecordSection("My Notes!", lambda: None, plugin="x").key == "x.my-notes"
    assert RecordSection("Deals", lambda: None, plugin="x", key="x.d").key == "x.d"


def test_a_third_party_section_titled_deals_hides_nothing(ws):
    from crm_workspace_contacts.views import ContactRecord

    contact_id = contact_with_a_deal_and_a_relationship(ws)
    ws.disable("pipeline")
    ws.disable("relationships")
    ws.register(DealsLookalike(), name="nps")
    text = own_lists_text(ContactRecord(workspace=ws, record_id=contact_id))
    assert "Engine" in text and "Babbage" in text


def test_the_built_in_sections_replace_the_short_lists(ws):
    from crm_workspace_contacts.views import ContactRecord

    contact_id = contact_with_a_deal_and_a_relationship(ws)
    text = own_lists_text(ContactRecord(workspace=ws, record_id=contact_id))
    assert "Engine" not in text and "Babbage" not in text and "sections below" in text
    ws.disable("relationships")
    text = own_lists_text(ContactRecord(workspace=ws, record_id=contact_id))
    assert "Engine" not in text and "Babbage" in text
