"""Marketing segments: filters compiled to parameterised SQL, live counts, members kept incrementally."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import sqlite_utils
from crm_workspace_marketing import segments
from crm_workspace_marketing.fields import FieldGone, FilterError, catalog
from crm_workspace_marketing.filters import compile_filter

from crm_workspace import ValidationError, Workspace, hookimpl
from crm_workspace.testing import assert_no_plugin_errors, registered

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def ws(demo_db):
    workspace = Workspace.open(demo_db, user="ana")
    yield workspace
    workspace.close()


def frame(ws) -> pd.DataFrame:
    """Every contact with what the filters look at, to check the SQL against pandas."""
    contacts = ws.df(
        "SELECT c.*, o.country AS org_country FROM contacts c LEFT JOIN organizations o ON o.id = c.organization_id"
    )
    last = ws.df("SELECT contact_id, max(occurred_at) AS last_activity FROM activities GROUP BY contact_id")
    return contacts.merge(last, how="left", left_on="id", right_on="contact_id")


def ids(ws, value) -> set[int]:
    sql, params = compile_filter(ws, value).select()
    return {r["id"] for r in ws.query(sql, params)}


def test_conditions_match_what_pandas_finds(ws):
    df = frame(ws)
    stage = {"field": "lifecycle_stage", "op": "in", "value": ["lead", "customer"]}
    assert ids(ws, [stage]) == set(df[df.lifecycle_stage.isin(["lead", "customer"])].id)
    not_de = {"field": "organization.country", "op": "is_not", "value": "DE"}
    assert ids(ws, [not_de]) == set(df[df.org_country != "DE"].id)  # no organization counts as "not DE"
    consent = {"field": "consent", "op": "is", "value": "given"}
    assert ids(ws, [consent]) == set(df[df.marketing_consent == 1].id)
    never = {"field": "consent", "op": "is", "value": "never_asked"}
    assert ids(ws, [never]) == set(df[df.marketing_consent.isna()].id)
    cutoff = (pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=90)).strftime("%Y-%m-%dT%H:%M:%SZ")
    recent = {"field": "last_activity", "op": "in_last_days", "value": 90}
    assert ids(ws, [recent]) == set(df[df.last_activity >= cutoff].id)
    quiet = {"field": "last_activity", "op": "not_in_last_days", "value": 90}
    assert ids(ws, [quiet]) == set(df[~(df.last_activity >= cutoff)].id)
    before = {"field": "last_activity", "op": "before", "value": "2026-06-01"}
    assert ids(ws, [before]) == set(df[df.last_activity < "2026-06-01"].id)
    name = {"field": "last_name", "op": "starts_with", "value": "Ga"}
    assert ids(ws, [name]) == set(df[df.last_name.fillna("").str.lower().str.startswith("ga")].id)
    anyof = {"match": "any", "conditions": [stage, consent]}
    both = set(df[df.lifecycle_stage.isin(["lead", "customer"]) | (df.marketing_consent == 1)].id)
    assert ids(ws, anyof) == both
    tagged = set(ws.df("SELECT contact_id FROM contact_tags WHERE tag = 'vip'").contact_id)
    assert ids(ws, [{"field": "tags", "op": "has_any", "value": ["vip"]}]) == tagged
    assert ids(ws, [{"field": "tags", "op": "has_none", "value": ["vip"]}]) == set(df.id) - tagged


def test_values_are_parameters_and_names_are_checked(ws):
    evil = "x'); DROP TABLE contacts; --"
    compiled = compile_filter(ws, [{"field": "last_name", "op": "is", "value": evil}])
    assert evil not in compiled.sql and evil in compiled.params
    assert segments.count(ws, [{"field": "last_name", "op": "contains", "value": "%_"}]) == 0  # LIKE wildcards escaped
    with pytest.raises(FieldGone, match="no field"):
        compile_filter(ws, [{"field": 'email" OR 1=1 --', "op": "is", "value": "x"}])
    with pytest.raises(FilterError, match=r"condition 1 .*does not apply"):
        compile_filter(ws, [{"field": "lifecycle_stage", "op": "gt", "value": 3}])
    with pytest.raises(FilterError, match="not a number"):
        compile_filter(ws, [{"field": "organization_id", "op": "gt", "value": "many"}])
    with pytest.raises(FilterError, match="not valid JSON"):
        compile_filter(ws, "{nope")
    assert ws.store.scalar("SELECT count(*) FROM contacts") == 300


def test_catalog_offers_every_contact_column_org_fields_tags_and_activity(ws):
    keys = {f.key for f in catalog(ws)}
    assert {"lifecycle_stage", "owner", "marketing_consent", "organization.country", "tags", "last_activity"} <= keys
    scoring = bool(ws.store.scalar("SELECT 1 FROM sqlite_master WHERE name = 'lead_scores'"))
    assert any(k.startswith("lead_score.") for k in keys) == scoring  # lead score fields only with the table


def test_saving_validates_and_members_follow_every_write(ws):
    with pytest.raises(ValidationError, match="filter"):
        segments.save_segment(ws, "Broken", [{"field": "nope", "op": "is", "value": 1}])
    assert ws.store.scalar("SELECT count(*) FROM segments WHERE name = 'Broken'") == 0
    value = {
        "match": "all",
        "conditions": [
            {"field": "lifecycle_stage", "op": "is", "value": "lead"},
            {"field": "organization.country", "op": "is", "value": "DE"},
            {"field": "tags", "op": "has_any", "value": ["newsletter"]},
        ],
    }
    row = segments.save_segment(ws, "DE newsletter leads", value)
    members = lambda: set(ws.df("marketing.segment", name="DE newsletter leads").id)  # noqa: E731
    assert members() == ids(ws, value)
    de_org = ws.store.scalar("SELECT id FROM organizations WHERE country = 'DE' LIMIT 1")
    person = ws.store.insert("contacts", {"first_name": "Ida", "last_name": "Neu", "lifecycle_stage": "lead"})
    assert person["id"] not in members()
    ws.store.update("contacts", person["id"], {"organization_id": de_org})
    ws.store.insert("contact_tags", {"contact_id": person["id"], "tag": "newsletter"})
    assert person["id"] in members()  # entered on the tag
    ws.store.update("organizations", de_org, {"country": "FR"})
    assert person["id"] not in members()  # left with the organization's country
    ws.store.update("organizations", de_org, {"country": "DE"})
    assert person["id"] in members()
    ws.store.update("contacts", person["id"], {"lifecycle_stage": "customer"})
    assert person["id"] not in members()
    assert members() == ids(ws, value)
    segments.save_segment(ws, "DE newsletter leads", [], segment_id=row["id"])  # no conditions: everyone
    assert len(members()) == ws.store.scalar("SELECT count(*) FROM contacts")
    for table in ("contact_tags", "activities", "deals"):  # what other modules' rules made for the new lead
        for row in ws.query(f"SELECT id FROM {table} WHERE contact_id = ?", [person["id"]]):
            ws.store.delete(table, row["id"])
    ws.store.delete("contacts", person["id"])
    assert person["id"] not in members()
    assert_no_plugin_errors(ws)


def test_activity_moves_a_contact_into_an_active_segment(ws):
    segments.save_segment(ws, "Active", [{"field": "last_activity", "op": "in_last_days", "value": 7}])
    quiet = ws.store.scalar(
        "SELECT id FROM contacts WHERE id NOT IN (SELECT m.contact_id FROM segment_members m"
        " JOIN segments s ON s.id = m.segment_id WHERE s.name = 'Active') LIMIT 1"
    )
    ws.store.insert("activities", {"kind": "call", "contact_id": quiet, "occurred_at": "2099-01-01T00:00:00Z"})
    assert quiet in set(ws.df("marketing.segment", name="Active").id)


def test_a_missing_field_marks_the_segment_broken_without_crashing(ws):
    ws.store.insert("excel_custom_fields", {"table_name": "contacts", "row_id": 1, "name": "Colour", "value": "green"})
    segments.save_segment(ws, "Green", [{"field": "custom.Colour", "op": "is", "value": "green"}])
    assert set(ws.df("marketing.segment", name="Green").id) == {1}
    segments.save_segment(ws, "Leads", [{"field": "lifecycle_stage", "op": "is", "value": "lead"}])
    field_id = ws.store.scalar("SELECT id FROM excel_custom_fields WHERE name = 'Colour'")
    ws.store.delete("excel_custom_fields", field_id)  # the last value of the field goes: the field is gone
    ws.store.update("contacts", 2, {"title": "Buyer"})  # any later write: the broken segment is skipped
    row = segments.get_segment(ws, "Green")
    assert row["status"] == "broken" and "custom field 'Colour' no longer exists" in row["problem"]
    assert segments.get_segment(ws, "Leads")["status"] == "ok"
    with pytest.raises(FieldGone, match="Colour"):
        segments.definition_sql(ws, "Green")
    assert "Colour" in ws.df("marketing.segment", name="Green").attrs["problem"]
    report = {r["segment"]: r for r in segments.rebuild(ws)}
    assert report["Green"]["status"] == "broken" and report["Leads"]["status"] == "ok"
    listed = ws.df("marketing.segments").set_index("name")
    assert listed.loc["Green", "status"] == "broken"


def test_lead_scores_are_read_only_when_the_table_exists(ws, tmp_path):
    import crm_workspace_marketing

    from crm_workspace.testing import make_workspace

    bare = make_workspace(tmp_path / "bare.db", builtins=False, plugins=(crm_workspace_marketing,))
    with pytest.raises(FieldGone, match="lead scores are not available"):
        compile_filter(bare, [{"field": "lead_score.rule_points", "op": "ge", "value": 50}])
    bare.close()

    class Scores:
        migrations = sqlite_utils.Migrations("test.lead_scores")

        @staticmethod
        @migrations()
        def m001(db):
            db["lead_scores"].create({"contact_id": int, "rule_points": int, "model_score": float}, pk="contact_id")

        @hookimpl
        def crm_migrations(self):
            return self.migrations

    def check():
        if not ws.store.scalar("SELECT count(*) FROM lead_scores"):
            ws.store.insert_many("lead_scores", [{"contact_id": i, "rule_points": i % 100} for i in range(1, 301)])
        segments.save_segment(ws, "Hot", [{"field": "lead_score.rule_points", "op": "ge", "value": 90}])
        hot = {r["contact_id"] for r in ws.query("SELECT contact_id FROM lead_scores WHERE rule_points >= 90")}
        assert set(ws.df("marketing.segment", name="Hot").id) == hot
        cold = ws.store.scalar("SELECT contact_id FROM lead_scores WHERE rule_points < 90 LIMIT 1")
        ws.store.update("lead_scores", cold, {"rule_points": 95})
        assert cold in set(ws.df("marketing.segment", name="Hot").id)

    if ws.store.scalar("SELECT 1 FROM sqlite_master WHERE name = 'lead_scores'"):
        check()  # the scoring module is installed: its table
    else:
        with registered(ws, Scores(), "scores"):
            check()


def test_static_lists_from_pasted_emails_and_a_selection(ws):
    emails = [r["email"] for r in ws.query("SELECT email FROM contacts WHERE email IS NOT NULL ORDER BY id LIMIT 3")]
    segments.save_segment(ws, "Fair 2026", kind="static")
    pasted = f"{emails[0].upper()}, Someone <{emails[1]}>\n{emails[2]}; nobody@nowhere.example; not an address"
    result = segments.add_emails(ws, "Fair 2026", pasted)
    assert result["added"] == 3 and result["unknown"] == ["nobody@nowhere.example"]
    assert result["invalid"] == ["not an address"]
    assert segments.add_emails(ws, "Fair 2026", emails[0])["already"] == 1
    assert segments.add_members(ws, "Fair 2026", [10, 11]) == 2
    assert segments.remove_members(ws, "Fair 2026", [10]) == 1
    assert len(ws.df("marketing.segment", name="Fair 2026")) == 4
    with pytest.raises(Exception, match="dynamic segment"):
        segments.save_segment(ws, "Dyn", []) and segments.add_members(ws, "Dyn", [1])


def test_the_cli_lists_segments_and_prints_their_sql(demo_db, tmp_path):
    db = tmp_path / "cli.db"
    shutil.copy(demo_db, db)

    def crm(*args):
        env = {"PYTHONPATH": f"{ROOT}:{ROOT / 'plugins'}", "PATH": "/usr/bin:/bin"}
        done = subprocess.run(
            [sys.executable, "-m", "crm_workspace", "--db", str(db), "--user", "ana", "marketing", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    listed = json.loads(crm("segments", "--json"))
    assert {"Newsletter audience", "Warm leads (DACH)"} <= {r["name"] for r in listed}
    sql = crm("segment", "Warm leads (DACH)", "--sql")
    assert "organizations" in sql and "'DE'" in sql
    members = json.loads(crm("segment", "Warm leads (DACH)", "--json"))
    ws = Workspace.open(db, user="ana")
    assert {m["id"] for m in members} == {r["id"] for r in ws.query(sql)}
    ws.close()


def test_segments_on_campaign_engagement_follow_new_events(ws):
    from crm_workspace_marketing import tracking

    openers = {
        r["contact_id"]
        for r in ws.query(
            "SELECT contact_id FROM marketing_events e JOIN campaigns c ON c.id = e.campaign_id"
            " WHERE c.name = 'November product news' AND e.kind = 'open' AND e.machine = 0"
        )
    }
    assert openers
    value = [{"field": "email_engagement", "op": "opened", "value": "November product news"}]
    segments.save_segment(ws, "Opened November", value)
    assert set(ws.df("marketing.segment", name="Opened November").id) == openers
    newcomer = ws.store.scalar(
        "SELECT id FROM contacts WHERE id NOT IN (SELECT contact_id FROM segment_members"
        " WHERE segment_id = (SELECT id FROM segments WHERE name = 'Opened November'))"
    )
    november = ws.store.scalar("SELECT id FROM campaigns WHERE name = 'November product news'")
    tracking.record_event(ws, "open", campaign_id=november, contact_id=newcomer, user_agent="Barracuda scanner")
    assert newcomer not in set(ws.df("marketing.segment", name="Opened November").id)  # machines do not count
    tracking.record_event(ws, "open", campaign_id=november, contact_id=newcomer, user_agent="Mozilla/5.0")
    assert newcomer in set(ws.df("marketing.segment", name="Opened November").id)
    never = segments.count(ws, [{"field": "email_engagement", "op": "not_clicked", "value": "any"}])
    clickers = ws.store.scalar(
        "SELECT count(DISTINCT contact_id) FROM marketing_events"
        " WHERE kind = 'click' AND machine = 0 AND campaign_id IS NOT NULL"
    )
    assert never == ws.store.scalar("SELECT count(*) FROM contacts") - clickers
    with pytest.raises(FieldGone, match="no campaign named"):
        compile_filter(ws, [{"field": "email_engagement", "op": "opened", "value": "Nope"}])


def test_any_campaign_counts_campaigns_only_and_any_email_counts_sequences_too(ws):
    from crm_workspace_marketing import tracking
    from crm_workspace_marketing.filters import describe

    def members(op, value):
        return {
            r["id"]
            for r in ws.query(
                *compile_filter(ws, [{"field": "email_engagement", "op": op, "value": value}]).select("c.id AS id")
            )
        }

    campaign_openers = members("opened", "any")
    reader = ws.store.scalar(
        "SELECT id FROM contacts WHERE id NOT IN (SELECT contact_id FROM marketing_events WHERE contact_id IS NOT NULL)"
    )
    tracking.record_event(
        ws,
        "open",
        campaign_id=None,
        contact_id=reader,
        ref="seq:1:1",
        user_agent="Mozilla/5.0",
        at="2026-01-01T10:00:00Z",
    )
    assert ws.store.scalar("SELECT machine FROM marketing_events WHERE ref = 'seq:1:1'") == 0  # a person's open
    assert members("opened", "any") == campaign_openers  # a sequence's mail is no campaign
    assert reader not in members("opened", "Any campaign")
    assert reader in members("not_opened", "any")
    everyone = members("opened", "any e-mail")
    assert everyone == campaign_openers | {reader}
    assert reader not in members("not_opened", "Any E-mail")
    assert "any e-mail (campaign or sequence)" in describe(
        ws, [{"field": "email_engagement", "op": "opened", "value": "any e-mail"}]
    )
    assert "any campaign" in describe(ws, [{"field": "email_engagement", "op": "opened", "value": "any"}])
    segments.save_segment(ws, "Read a sequence", [{"field": "email_engagement", "op": "opened", "value": "any e-mail"}])
    assert reader in set(ws.df("marketing.segment", name="Read a sequence").id)


NESTED = {
    "match": "all",
    "conditions": [
        {"field": "lifecycle_stage", "op": "in", "value": ["lead", "marketing_qualified", "subscriber"]},
        {
            "match": "any",
            "conditions": [
                {"field": "tags", "op": "has_any", "value": ["vip", "newsletter"]},
                {"field": "lead_score.rule_points", "op": "gt", "value": 10},
            ],
        },
    ],
}


def test_a_group_inside_a_segment_compiles_to_parameterised_sql(ws):
    stage = {
        r["id"]
        for r in ws.query(
            "SELECT id FROM contacts WHERE lifecycle_stage IN ('lead', 'marketing_qualified', 'subscriber')"
        )
    }
    tagged = {
        r["contact_id"] for r in ws.query("SELECT contact_id FROM contact_tags WHERE tag IN ('vip', 'newsletter')")
    }
    scored = {r["contact_id"] for r in ws.query("SELECT contact_id FROM lead_scores WHERE rule_points > 10")}
    expected = stage & (tagged | scored)
    assert expected and expected != stage & tagged and expected != stage & scored  # both branches matter
    compiled = compile_filter(ws, NESTED)
    assert " OR " in compiled.sql and " AND " in compiled.sql
    assert "vip" not in compiled.sql and "lead" not in compiled.sql.replace("lead_scores", "")  # values are parameters
    assert compiled.params == ["lead", "marketing_qualified", "subscriber", "vip", "newsletter", 10]
    assert {"contact_tags", "lead_scores"} <= compiled.tables
    assert ids(ws, NESTED) == expected
    assert segments.count(ws, NESTED) == len(expected)
    saved = segments.save_segment(ws, "Warm or tagged", NESTED)
    assert json.loads(saved["filter"]) == NESTED  # kept as defined
    assert set(ws.df("marketing.segment", name="Warm or tagged").id) == expected
    newcomer = next(iter(stage - expected))  # tagging a contact of the stage brings it in, through the group
    ws.store.insert("contact_tags", {"contact_id": newcomer, "tag": "vip"})
    assert newcomer in set(ws.df("marketing.segment", name="Warm or tagged").id)
    words = segments.list_segments(ws)
    assert (
        "(tags has any of vip, newsletter OR " in next(r for r in words if r["name"] == "Warm or tagged")["conditions"]
    )


def test_an_erased_contact_is_in_no_segment_or_list(ws, tmp_path):
    from crm_workspace_marketing import schema

    from crm_workspace.data import schema as core_schema
    from crm_workspace.services import privacy

    stage = [{"field": "lifecycle_stage", "op": "is", "value": "customer"}]
    segments.save_segment(ws, "Customers", stage)
    segments.save_segment(ws, "VIP list", kind="static")
    person = ws.query("SELECT id, email FROM contacts WHERE lifecycle_stage = 'customer' AND email IS NOT NULL")[0]
    segments.add_members(ws, "VIP list", [person["id"]])
    before = segments.count(ws, stage)
    privacy.erase(ws, person["email"], tmp_path)
    assert ws.store.get("contacts", person["id"])["lifecycle_stage"] == "customer"  # kept, yet matches nothing
    assert privacy.erased(ws, [person["id"]]) == {person["id"]}  # the core's list, no copy of the plugin's
    assert "marketing_erased" not in ws.store.db.table_names()
    assert segments.count(ws, stage) == before - 1
    assert person["id"] not in set(ws.df("marketing.segment", name="Customers").id)
    ws.store.update("contacts", person["id"], {"title": "Anyone"})  # a later write does not bring them back
    assert person["id"] not in set(ws.df("marketing.segment", name="Customers").id)
    assert segments.add_members(ws, "VIP list", [person["id"]]) == 0
    segments.rebuild(ws)
    assert not ws.query("SELECT 1 FROM segment_members WHERE contact_id = ?", [person["id"]])
    with ws.store.transaction() as db:  # erased before the core's list existed: found in the audit trail
        db.execute("DROP TABLE erased_contacts")
        db.execute("INSERT INTO segment_members (segment_id, contact_id) SELECT id, ? FROM segments", [person["id"]])
        core_schema.m006_erased_contacts(db)
        schema.m007_erased(db)
    assert ws.store.scalar("SELECT contact_id FROM erased_contacts") == person["id"]
    assert not ws.query("SELECT 1 FROM segment_members WHERE contact_id = ?", [person["id"]])
