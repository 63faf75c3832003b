"""The Marketing page without a browser: the builder's live count, the demo's numbers, read-only for viewers."""

from __future__ import annotations

import panel as pn
import pytest
from crm_workspace_marketing.model import MarketingModel, SegmentBuilder
from crm_workspace_marketing.views import MarketingPage
from crm_workspace_marketing.views.campaigns import CampaignsTab
from crm_workspace_marketing.views.segments import SegmentsTab

from crm_workspace import Workspace
from crm_workspace.testing import assert_no_plugin_errors, page_text
from crm_workspace.web.list_table import ListTable


@pytest.fixture
def ws(demo_db):
    workspace = Workspace.open(demo_db, user="ana")
    yield workspace
    workspace.close()


def test_the_builder_counts_live_and_saves(ws):
    builder = SegmentBuilder(workspace=ws)
    assert builder.count == ws.store.scalar("SELECT count(*) FROM contacts")
    condition = builder.add("lifecycle_stage", "in", "lead")
    leads = ws.store.scalar("SELECT count(*) FROM contacts WHERE lifecycle_stage = 'lead'")
    assert builder.count == leads and "lifecycle_stage" in builder.sql
    condition.value = "lead, customer"
    assert builder.count == ws.store.scalar(
        "SELECT count(*) FROM contacts WHERE lifecycle_stage IN ('lead', 'customer')"
    )
    condition.op = "gt"  # not an operator of this field: a message, no count
    assert builder.count is None and "does not apply" in builder.problem
    condition.op = "in"
    builder.add("organization.country", "is", "DE")
    builder.segment_name = "Leads and customers in DE"
    row = builder.save()
    assert len(ws.df("marketing.segment", name=row["name"])) == builder.count
    again = SegmentBuilder(workspace=ws)
    again.load(row["name"])
    assert [c.field for c in again.conditions] == ["lifecycle_stage", "organization.country"]
    assert again.count == builder.count


def test_the_page_shows_the_demo_history(ws):
    page = MarketingPage(workspace=ws)
    text = page_text(pn.panel(page))
    assert "Marketing" in text and "Newsletter audience" in text
    model = MarketingModel(workspace=ws)
    stats = model.campaigns().set_index("name")
    assert stats.loc["November product news", "sent"] > 0 and stats.loc["November product news", "unique_opens"] > 0
    assert model.totals()["signups"] > 0 and len(model.forms()) == 1
    campaigns_text = page_text(pn.panel(CampaignsTab(model=model)))
    assert "November product news" in campaigns_text
    assert_no_plugin_errors(ws)


def test_viewers_get_a_read_only_page(demo_db):
    viewer = Workspace.open(demo_db, user="eve")
    assert viewer.read_only
    model = MarketingModel(workspace=viewer)
    segments_tab = SegmentsTab(model=model)
    campaigns_tab = CampaignsTab(model=model)
    assert segments_tab.save_button.disabled and segments_tab.add_emails.disabled
    assert campaigns_tab.send_button.disabled and campaigns_tab.save_button.disabled
    assert "read only" in page_text(pn.panel(MarketingPage(workspace=viewer)))
    viewer.close()


def test_pick_people_from_a_segment_onto_a_static_list(ws):
    tab = SegmentsTab(model=MarketingModel(workspace=ws))
    tab.pick_from.value = "Warm leads (DACH)"
    assert tab.picker.visible and len(tab.picker.value) > 2
    tab.picker.selection = [0, 1]
    tab.new_list.value = "Picked"
    tab._add_selected()
    assert "Added 2" in page_text(tab.list_message)
    assert len(ws.df("marketing.segment", name="Picked")) == 2


def test_campaign_tables_read_as_a_product(ws):
    """Headers are labels, rates percentages, names wide and left-aligned (issue 18's standard)."""
    tab = CampaignsTab(model=MarketingModel(workspace=ws))
    grid = tab._table()
    assert grid.titles["unique_opens"] == "Unique opens" and grid.titles["open_rate"] == "Open rate"
    assert all("_" not in title for title in grid.titles.values())
    assert grid.formatters["open_rate"](0.125) == "12.5%" and grid.formatters["click_rate"](0.5) == "50.0%"
    assert grid.widths["name"] >= 200 and grid.text_align["name"] == "left"


def test_sequence_steps_show_labels_and_humanised_times(ws):
    from crm_workspace_marketing.sequences.views import SequencesPage

    page = SequencesPage(workspace=ws)
    assert page.selected, "the demo has sequences"
    grid = page._step_counts()[1]
    assert grid.titles["waiting_here"] == "Waiting here" and grid.titles["next_due"] == "Next due"
    assert grid.titles["due_now"] == "Due now" and grid.widths["step"] >= 300
    due = [v for v in grid.value["next_due"] if v]
    assert due, "someone is waiting in the demo"
    for cell in due:  # "in 2 days" / "3 hours ago" / a date, the exact time in the hover title
        assert "title='" in cell and ("ago" in cell or "in " in cell or "just now" in cell or " 20" in cell)
        assert "T" not in cell.split(">")[1]
    assert grid.formatters["next_due"] == "html"
    health = page._health()  # one HTML pane, not a component per figure
    assert isinstance(health, pn.pane.HTML) and "People in sequences" in health.object
    assert "E-mail queued / failed" in health.object


def test_the_builder_edits_a_group_and_keeps_deeper_ones(ws):
    builder = SegmentBuilder(workspace=ws)
    builder.add("lifecycle_stage", "in", "lead, marketing_qualified, subscriber")
    group = builder.add_group()
    assert group.match == "any"  # the other way than the segment
    group.conditions[0].param.update(field="tags", op="has_any", value="vip, newsletter")
    builder.add("lead_score.rule_points", "gt", "10", group=group)
    expected = ws.store.scalar(
        "SELECT count(*) FROM contacts WHERE lifecycle_stage IN ('lead', 'marketing_qualified', 'subscriber')"
        " AND (id IN (SELECT contact_id FROM contact_tags WHERE tag IN ('vip', 'newsletter'))"
        " OR id IN (SELECT contact_id FROM lead_scores WHERE rule_points > 10))"
    )
    assert builder.count == expected and " OR " in builder.sql  # live, group included
    group.match = "all"
    assert builder.count < expected
    group.match = "any"
    builder.segment_name = "Grouped"
    builder.save()
    again = SegmentBuilder(workspace=ws)
    again.load("Grouped")
    assert again.as_filter() == builder.as_filter()
    assert again.as_filter()["conditions"][1] == {
        "match": "any",
        "conditions": [
            {"field": "tags", "op": "has_any", "value": ["vip", "newsletter"]},
            {"field": "lead_score.rule_points", "op": "gt", "value": 10},
        ],
    }
    assert again.count == expected
    tab = SegmentsTab(model=MarketingModel(workspace=ws))
    tab.builder.load("Grouped")
    text = page_text(tab)
    assert "Group:" in text and "+ Condition in this group" in text
    # removing the group's last condition removes the group
    for condition in list(again.conditions[1].conditions):
        again.remove(condition)
    assert len(again.conditions) == 1 and again.count == ws.store.scalar(
        "SELECT count(*) FROM contacts WHERE lifecycle_stage IN ('lead', 'marketing_qualified', 'subscriber')"
    )
    # a group nested deeper (saved from a notebook) survives a load and save in the builder
    from crm_workspace_marketing import segments

    deep = {
        "match": "all",
        "conditions": [
            {"field": "lifecycle_stage", "op": "is", "value": "lead"},
            {
                "match": "any",
                "conditions": [
                    {"field": "tags", "op": "has_any", "value": ["vip"]},
                    {"match": "all", "conditions": [{"field": "title", "op": "contains", "value": "CEO"}]},
                ],
            },
        ],
    }
    segments.save_segment(ws, "Deep", deep)
    loaded = SegmentBuilder(workspace=ws)
    loaded.load("Deep")
    assert loaded.as_filter() == deep
    loaded.save()
    assert json_filter(ws, "Deep") == deep


def json_filter(ws, name):
    import json

    return json.loads(ws.query("SELECT filter FROM segments WHERE name = ?", [name])[0]["filter"])


def test_sending_from_the_page_asks_first_and_refuses_unsaved_changes(ws):
    tab = CampaignsTab(model=MarketingModel(workspace=ws))
    tab._ask()
    assert "save the campaign first" in str(tab.message[0].object) and not tab.confirm.visible
    tab.editor.param.update(campaign_name="Asked first", segment="Newsletter audience")
    tab._save()
    assert tab.row and tab.row["name"] == "Asked first"
    people = tab.model.audience_count("Asked first")
    assert people > 0
    tab._ask()
    assert tab.confirm.visible and f"Send 'Asked first' to {people:,} people?" in tab.confirm_text.object
    assert tab.confirm_button.label == f"Send to {people:,} people"
    assert (
        ws.store.scalar(
            "SELECT count(*) FROM campaign_recipients r JOIN campaigns c ON c.id = r.campaign_id"
            " WHERE c.name = 'Asked first'"
        )
        == 0
    )  # asking sends nothing
    tab.cancel_button.clicks += 1
    assert not tab.confirm.visible
    tab.editor.subject = "Changed after saving"
    tab._ask()
    assert not tab.confirm.visible and "unsaved changes" in str(tab.message[0].object)


def test_the_campaigns_tab_shows_the_demos_ab_test_and_its_decision(ws):
    """The demo's webinar tested two subject lines: the page names the winner, when (in words a person
    reads, no ISO time), and each variant's numbers."""
    tab = CampaignsTab(model=MarketingModel(workspace=ws))
    text = page_text(pn.panel(tab._progress("Webinar: pipeline hygiene")))
    assert "Winner: variant" in text and "by opens" in text and "T13:00:00Z" not in text
    variants = MarketingModel(workspace=ws).variants("Webinar: pipeline hygiene")
    assert list(variants.name) == ["A", "B"] and variants.recipients.sum() > 0 and variants.opens.sum() > 0
    assert "revenue" in variants.columns and "variant" not in variants.columns  # A and B, not also 0 and 1


def test_the_analytics_charts_keep_their_legends_off_the_data(ws):
    """Inside the plot the legend covered the demo's bars (and on a phone most of the chart)."""
    from bokeh.models import Legend
    from crm_workspace_marketing.views.analytics import campaigns_figure, daily_figure

    model = MarketingModel(workspace=ws)
    for fig in (campaigns_figure(model.campaigns()), daily_figure(model.daily())):
        assert [type(item) for item in fig.above].count(Legend) == 1
        assert not [item for item in fig.center if isinstance(item, Legend)]


def test_attribution_reads_as_money(ws):
    from crm_workspace_marketing.views.common import table

    grid = table(MarketingModel(workspace=ws).attribution())
    for column in ("first_touch_revenue", "last_touch_revenue", "influenced_pipeline"):
        assert grid.formatters[column](18600.0) == "18,600"
    assert grid.titles["influenced_pipeline"] == "Influenced pipeline"


def test_the_page_tests_up_to_four_subjects_and_keeps_a_notebooks_content_variants(ws):
    """The A/B field takes one subject a line (two to four versions); saving a campaign whose variants
    change the HTML (made in a notebook) keeps them instead of dropping the test."""
    import json

    from crm_workspace_marketing import campaigns

    content = {"variants": [{"html": "<p>B body</p>"}, {"subject": "C subject"}], "metric": "clicks", "share": 0.3}
    campaigns.save_campaign(
        ws, {"name": "Content test", "subject": "A", "html": "<p>A</p>", "segment_id": "VIP customers", "ab": content}
    )
    tab = CampaignsTab(model=MarketingModel(workspace=ws))
    tab.chooser.value = "Content test"
    assert tab.editor.variant_subject == "\nC subject"
    tab._save()
    saved = json.loads(campaigns.get_campaign(ws, "Content test")["ab"])
    assert saved["variants"] == content["variants"] and saved["metric"] == "clicks"
    tab.editor.variant_subject = "B subject\nC subject\nD subject"
    tab._save()  # a second save from the same screen: no "changed since you opened it"
    assert "Saved" in str(tab.message[0].object), tab.message[0].object
    saved = json.loads(campaigns.get_campaign(ws, "Content test")["ab"])
    assert saved["variants"] == [
        {"html": "<p>B body</p>", "subject": "B subject"},
        {"subject": "C subject"},
        {"subject": "D subject"},
    ]
    tab.editor.variant_subject = "B\nC\nD\nE"  # five versions: a clear message, nothing saved
    tab._save()
    assert "two to four versions" in str(tab.message[0].object)
    assert len(json.loads(campaigns.get_campaign(ws, "Content test")["ab"])["variants"]) == 3


def test_stages_read_as_labels_but_are_stored_as_codes(ws):
    from crm_workspace_marketing.filters import describe
    from crm_workspace_marketing.views.analytics import AnalyticsTab
    from crm_workspace_marketing.views.segments import ConditionEditor

    builder = SegmentBuilder(workspace=ws)
    condition = builder.add("lifecycle_stage", "in", "lead, marketing_qualified")
    editor = ConditionEditor(builder, condition, read_only=False)
    assert editor.value.value == "Lead, Marketing qualified"  # the box shows labels
    assert "Marketing qualified" in editor.value.placeholder or "Lead" in editor.value.placeholder
    editor.value.value = "Customer, sales qualified"  # typed as labels (any case) ...
    assert condition.value == "customer, sales_qualified"  # ... stored as codes
    assert builder.count == ws.store.scalar(
        "SELECT count(*) FROM contacts WHERE lifecycle_stage IN ('customer', 'sales_qualified')"
    )
    condition.value = "lead"
    assert editor.value.value == "Lead"
    words = describe(ws, {"match": "all", "conditions": [condition.as_filter("choice")]})
    assert "Lead" in words and "marketing_qualified" not in describe(
        ws, {"conditions": [{"field": "lifecycle_stage", "op": "in", "value": ["marketing_qualified"]}]}
    )
    tables = pn.panel(AnalyticsTab(model=MarketingModel(workspace=ws))).select(ListTable)
    attribution = next(t for t in tables if "first_touch_deals" in t.value.columns)
    assert "id" not in attribution.value.columns and "Id" not in attribution.titles.values()


def test_the_picker_shows_words_not_columns_or_codes(ws):
    tab = SegmentsTab(model=MarketingModel(workspace=ws))
    tab.pick_from.value = "Warm leads (DACH)"
    assert tab.picker.titles["first_name"] == "First name"
    stages = set(tab.picker.value["lifecycle_stage"])
    assert stages and all(s[:1].isupper() and "_" not in s for s in stages if s), stages
