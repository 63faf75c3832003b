"""Contacts module: search, validation, merge and undo, conflicts, lists, timeline, tasks."""

from __future__ import annotations

import shutil

import pytest
from crm_workspace_contacts import merge, model
from crm_workspace_contacts.search import fts_query, search_contacts

from crm_workspace import ConflictError, CrmError, ValidationError
from crm_workspace.testing import make_workspace


@pytest.fixture
def ws(tmp_path):
    workspace = make_workspace(tmp_path / "crm.db")
    yield workspace
    workspace.close()


@pytest.fixture
def demo(demo_template, tmp_path):
    path = tmp_path / "demo.db"
    shutil.copy(demo_template, path)
    workspace = make_workspace(path)
    yield workspace
    workspace.close()


def add_org(ws, name="Acme Analytics"):
    return ws.store.insert("organizations", {"name": name})["id"]


def add(ws, **fields):
    return ws.store.insert("contacts", fields)


# ------------------------------------------------------------------ search
def test_search_prefix_and_diacritics(ws):
    org = add_org(ws, "Zürich Logistik")
    jose = add(ws, first_name="José", last_name="Núñez", email="jn@example.com", organization_id=org)
    add(ws, first_name="Joseph", last_name="Miller")
    add(ws, first_name="Anna", last_name="Berg", notes="met at the Hamburg fair")
    ids = [r["id"] for r in search_contacts(ws.store, "jose")]
    assert jose["id"] in ids and len(ids) == 2  # José and Joseph (prefix)
    assert [r["id"] for r in search_contacts(ws.store, "nunez")] == [jose["id"]]
    assert [r["id"] for r in search_contacts(ws.store, "zurich")] == [jose["id"]]  # organization name
    assert [r["id"] for r in search_contacts(ws.store, "jos nú")] == [jose["id"]]  # every token must match
    assert len(search_contacts(ws.store, "hambu")) == 1  # notes, prefix
    assert len(search_contacts(ws.store, "jn@example")) == 1  # email


def test_search_follows_edits_and_org_renames(ws):
    org = add_org(ws, "Old Name")
    c = add(ws, first_name="Kim", last_name="Lee", organization_id=org)
    ws.store.update("contacts", c["id"], {"last_name": "Park"})
    assert search_contacts(ws.store, "lee") == []
    assert [r["id"] for r in search_contacts(ws.store, "park")] == [c["id"]]
    ws.store.update("organizations", org, {"name": "Brand New"})
    assert search_contacts(ws.store, "old") == []
    assert [r["id"] for r in search_contacts(ws.store, "brand")] == [c["id"]]
    ws.store.delete("contacts", c["id"])
    assert search_contacts(ws.store, "park") == []


@pytest.mark.parametrize(
    "text",
    ['"', '""', "*", "-", "a*b", "NEAR", "NEAR(a b)", 'jo"se', "(", ")", "AND", "OR NOT", "^", ":", "col:x", "' ;--"],
)
def test_fts_syntax_characters_never_error(ws, text):
    add(ws, first_name="José", last_name="Near")
    search_contacts(ws.store, text)  # must not raise
    ws.search(text)
    model.list_contacts(ws, search=text)
    model.count_contacts(ws, search=text)


def test_fts_query_quotes_tokens():
    assert fts_query('jo"se NEAR') == '"jo""se"* "NEAR"*'
    assert fts_query(" - * ") == ""


def test_workspace_search_hook(demo):
    hits = demo.search("jose")
    assert len(hits) and (hits["type"] == "contacts").all()
    assert hits["title"].str.contains("José").any()
    orgs = demo.search("analytics")
    assert (orgs["type"] == "organizations").any()


# -------------------------------------------------------------- validation
def test_email_is_normalized_and_checked(ws):
    c = add(ws, first_name="A", email="  Ann.Smith@Example.COM ")
    assert c["email"] == "ann.smith@example.com"
    with pytest.raises(ValidationError) as info:
        add(ws, first_name="B", email="not-an-email")
    assert "email" in info.value.errors
    assert ws.store.scalar("SELECT count(*) FROM contacts") == 1  # nothing saved


def test_phone_to_e164_or_kept(ws):
    c = add(ws, first_name="A", phone="0151 2345 6789")
    assert c["phone"] == "+4915123456789"
    c2 = add(ws, first_name="B", phone="+1 (415) 555-0100")
    assert c2["phone"] == "+14155550100"
    c3 = add(ws, first_name="C", phone="call reception")
    assert c3["phone"] == "call reception"
    ws.set_setting("default_phone_region", "US")
    assert add(ws, first_name="D", phone="415 555 0199")["phone"] == "+14155550199"


def test_required_fields_and_bad_org(ws):
    c = add(ws, first_name="A", last_name="B")
    with pytest.raises(ValidationError) as info:
        ws.store.update("contacts", c["id"], {"first_name": "", "last_name": None})
    assert "last_name" in info.value.errors
    with pytest.raises(ValidationError) as info:
        add(ws, first_name="X", organization_id=999)
    assert "organization_id" in info.value.errors
    with pytest.raises(ValidationError):
        ws.store.insert("organizations", {"name": "  "})


def test_duplicate_email_case_insensitive_refused(ws):
    add(ws, first_name="A", email="a@example.com")
    with pytest.raises(ValidationError):
        add(ws, first_name="B", email="A@EXAMPLE.com")


# ---------------------------------------------------------------- conflict
def test_edit_with_stale_version_conflicts(ws):
    c = add(ws, first_name="A", title="old")
    ws.store.update("contacts", c["id"], {"title": "theirs"}, version=c["version"])
    with pytest.raises(ConflictError) as info:
        ws.store.update("contacts", c["id"], {"title": "mine"}, version=c["version"])
    assert info.value.theirs["title"] == "theirs" and info.value.mine == {"title": "mine"}


def test_form_shows_conflict_and_field_errors(ws):
    pytest.importorskip("panel")
    from crm_workspace_contacts.views import RecordForm

    c = add(ws, first_name="A", title="old")
    mine = RecordForm(workspace=ws, table="contacts", record_id=c["id"])
    theirs = RecordForm(workspace=ws, table="contacts", record_id=c["id"])
    theirs.widgets["title"].value = "theirs"
    assert theirs.submit() is not None
    mine.widgets["title"].value = "mine"
    assert mine.submit() is None
    assert "theirs" in mine.message.objects[0][1].object and "mine" in mine.message.objects[0][1].object
    assert ws.store.get("contacts", c["id"])["title"] == "theirs"
    fresh = RecordForm(workspace=ws, table="contacts", record_id=c["id"])
    fresh.widgets["email"].value = "broken@"
    assert fresh.submit() is None and fresh.errors["email"].visible
    assert ws.store.get("contacts", c["id"])["email"] is None


# ------------------------------------------------------------ merge & undo
def test_merge_moves_everything_and_undo_restores(ws):
    org = add_org(ws)
    a = add(ws, first_name="Jose", last_name="Garcia", organization_id=org, phone="+4915100000001")
    b = add(
        ws, first_name="José", last_name="García", organization_id=org, email="jg@example.com", lifecycle_stage="lead"
    )
    other = add(ws, first_name="Boss", last_name="Person")
    act = ws.store.insert("activities", {"kind": "call", "contact_id": b["id"], "occurred_at": "2026-01-01T10:00:00Z"})
    deal = ws.store.insert("deals", {"title": "Big", "contact_id": b["id"]})
    rel = ws.store.insert(
        "relationships",
        {"source_type": "contacts", "source_id": b["id"], "target_type": "contacts", "target_id": other["id"],
         "kind": "reports_to"},
    )  # fmt: skip
    self_rel = ws.store.insert(
        "relationships",
        {"source_type": "contacts", "source_id": a["id"], "target_type": "contacts", "target_id": b["id"],
         "kind": "works_with"},
    )  # fmt: skip
    ws.store.insert("contact_tags", {"contact_id": b["id"], "tag": "vip"})
    dupes = merge.find_duplicates(ws)
    assert dupes and {dupes[0]["a"], dupes[0]["b"]} == {a["id"], b["id"]} and dupes[0]["score"] > 80
    log_id = merge.merge_contacts(ws, a["id"], b["id"], {"first_name": "loser"})
    merged = ws.store.get("contacts", a["id"])
    assert merged["first_name"] == "José" and merged["email"] == "jg@example.com"  # chosen / filled blank
    assert merged["phone"] == "+4915100000001"
    assert ws.store.query("SELECT 1 FROM contacts WHERE id = ?", [b["id"]]) == []
    assert ws.store.get("activities", act["id"])["contact_id"] == a["id"]
    assert ws.store.get("deals", deal["id"])["contact_id"] == a["id"]
    assert ws.store.get("relationships", rel["id"])["source_id"] == a["id"]
    assert ws.store.query("SELECT 1 FROM relationships WHERE id = ?", [self_rel["id"]]) == []
    assert model.tags_of(ws, a["id"]) == ["vip"]
    assert any(e["to_stage"] == "lead" for e in model.lifecycle_history(ws, a["id"]))  # history stays attached
    audited = ws.store.scalar(
        "SELECT count(*) FROM audit_log WHERE json_extract(changes, '$.context.merge') = ?", [log_id]
    )
    assert audited >= 5
    assert merge.find_duplicates(ws) == []

    merge.undo_merge(ws, log_id)
    back = ws.store.get("contacts", b["id"])
    assert back["email"] == "jg@example.com" and back["first_name"] == "José"
    assert ws.store.get("contacts", a["id"])["first_name"] == "Jose"
    assert ws.store.get("contacts", a["id"])["email"] is None
    assert ws.store.get("activities", act["id"])["contact_id"] == b["id"]
    assert ws.store.get("deals", deal["id"])["contact_id"] == b["id"]
    assert ws.store.get("relationships", rel["id"])["source_id"] == b["id"]
    assert ws.store.get("relationships", self_rel["id"])["target_id"] == b["id"]
    assert model.tags_of(ws, b["id"]) == ["vip"]
    assert merge.merge_log(ws)[0]["status"] == "undone"
    with pytest.raises(CrmError):
        merge.undo_merge(ws, log_id)


def test_merge_refuses_stale_version_and_self(ws):
    a, b = add(ws, first_name="A"), add(ws, first_name="A")
    ws.store.update("contacts", b["id"], {"title": "x"})
    with pytest.raises(ConflictError):
        merge.merge_contacts(ws, a["id"], b["id"], loser_version=b["version"])
    with pytest.raises(CrmError):
        merge.merge_contacts(ws, a["id"], a["id"])
    assert ws.store.scalar("SELECT count(*) FROM merge_log") == 0  # rolled back


def test_demo_has_planted_duplicates(demo):
    reasons = {p["reason"] for p in merge.find_duplicates(demo)}
    assert "same phone" in reasons and "similar name, same organization" in reasons


# ------------------------------------------------------ lists and records
def test_list_filters_sort_and_data_view(demo):
    page = model.list_contacts(demo, lifecycle_stage="customer", owner="ana", sort="last_name")
    assert page and all(r["lifecycle_stage"] == "customer" and r["owner"] == "ana" for r in page)
    names = [(r["last_name"], r["first_name"]) for r in page]
    assert names == sorted(names, key=lambda n: (n[0] or "", n[1] or ""))
    frame = demo.df("contacts.list", lifecycle_stage="customer", owner="ana", sort="last_name", limit=50)
    assert list(frame["id"]) == [r["id"] for r in page]
    tagged = demo.df("contacts.list", tag="vip")
    assert len(tagged) == demo.store.scalar("SELECT count(DISTINCT contact_id) FROM contact_tags WHERE tag = 'vip'")
    recent = demo.df("contacts.list", touched_after="2100-01-01")
    assert recent.empty
    assert model.count_contacts(demo) == demo.store.scalar("SELECT count(*) FROM contacts")
    assert model.count_contacts(demo, cap=10) == 11
    orgs = demo.df("contacts.organizations", sort="contacts", descending=True, limit=5)
    assert list(orgs["contacts"]) == sorted(orgs["contacts"], reverse=True)
    second = model.list_contacts(demo, offset=50)
    assert {r["id"] for r in second}.isdisjoint({r["id"] for r in model.list_contacts(demo)})


def test_timeline_newest_first_with_stages_and_edits(demo):
    cid = demo.store.scalar("SELECT contact_id FROM activities GROUP BY contact_id ORDER BY count(*) DESC LIMIT 1")
    row = demo.store.get("contacts", cid)
    demo.store.update("contacts", cid, {"title": "<script>alert(1)</script>"}, version=row["version"])
    items = model.timeline(demo, "contacts", cid)
    stamps = [i["at"] for i in items]
    assert stamps == sorted(stamps, reverse=True)
    assert {"activity", "edit"} <= {i["source"] for i in items}
    assert all(i["function"] in ("sales", "marketing", "service") for i in items if i["source"] == "activity")
    from crm_workspace_contacts.views import timeline_html

    assert "<script>" not in timeline_html(items) and "&lt;script&gt;" in timeline_html(items)


def test_log_activity_tasks_and_mark_done(ws):
    c = add(ws, first_name="A")
    model.log_activity(ws, "contacts", c["id"], "call", body="Talked <b>budget</b>")
    assert model.timeline(ws, "contacts", c["id"])[0]["kind"] == "call"
    task = model.log_activity(ws, "contacts", c["id"], "task", subject="Send offer", due_at="2020-01-01T17:00:00Z")
    tasks = model.my_tasks(ws)
    assert [t["id"] for t in tasks] == [task["id"]] and tasks[0]["overdue"]
    model.mark_done(ws, task["id"], task["version"])
    assert model.my_tasks(ws) == []


def test_marking_tasks_done_together_is_all_or_nothing(ws):
    c = add(ws, first_name="A")
    one, two = (
        model.log_activity(ws, "contacts", c["id"], "task", subject=s, due_at="2020-01-01T17:00:00Z")
        for s in ("One", "Two")
    )
    ws.store.update("activities", two["id"], {"subject": "Two, renamed"})  # someone else, since it was seen
    with pytest.raises(ConflictError):
        model.mark_all_done(ws, [(one["id"], one["version"]), (two["id"], two["version"])])
    assert len(model.my_tasks(ws)) == 2  # the first was not marked either
    fresh = {t["id"]: t["version"] for t in model.my_tasks(ws)}
    model.mark_all_done(ws, fresh.items())
    assert model.my_tasks(ws) == []


def test_consent_columns_shown_only_when_present(ws):
    before = model.consent_fields(ws)
    assert "first_name" not in before and "consent_sms_test" not in before
    with ws.store.transaction():  # raw schema changes only inside the Store's transaction
        ws.store.db["contacts"].add_column("consent_sms_test", str)
    ws.store._columns.clear()
    assert model.consent_fields(ws) == [*before, "consent_sms_test"]


def test_export_is_the_filtered_list(demo):
    import io

    from crm_workspace_contacts.views import ContactListView
    from openpyxl import load_workbook

    view = ContactListView(workspace=demo)
    view.stage_w.value = "customer"
    view.owner_w.value = "ben"
    sheet = load_workbook(io.BytesIO(view._export().getvalue())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == model.CONTACT_COLUMNS
    expected = demo.store.scalar("SELECT count(*) FROM contacts WHERE lifecycle_stage = 'customer' AND owner = 'ben'")
    assert len(rows) - 1 == expected > 0
    assert all(row[8] == "customer" and row[9] == "ben" for row in rows[1:])


def test_cli_search_duplicates_merge_undo(demo_db):
    import subprocess
    import sys
    from pathlib import Path

    crm = str(Path(sys.executable).with_name("crm"))

    def run(*args):
        return subprocess.run(
            [crm, "--db", str(demo_db), "--user", "ana", "contacts", *args], capture_output=True, text=True
        )

    assert "José" in run("search", 'jose"').stdout
    assert "same phone" in run("duplicates").stdout
    merged = run("merge", "5", "300", "--take", "email")
    assert merged.returncode == 0 and "undo-merge 1" in merged.stdout
    assert run("undo-merge", "1").returncode == 0
    again = run("undo-merge", "1")
    assert again.returncode != 0 and "cannot be undone" in again.stderr and "Traceback" not in again.stderr
