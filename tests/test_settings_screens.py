"""Settings screens show the controls the acting user may use: an admin all, a member some, a viewer none."""

from __future__ import annotations

import pytest

from crm_workspace.core_rules import may_change_setting

pytest.importorskip("panel")


def test_who_may_change_which_setting(demo_workspace):
    admin, ben, eve = demo_workspace.as_user("ana"), demo_workspace.as_user("ben"), demo_workspace.as_user("eve")
    assert may_change_setting(admin, "lifecycle_stages") and may_change_setting(admin, "currency")
    assert not may_change_setting(ben, "lifecycle_stages") and may_change_setting(ben, "currency")
    assert not may_change_setting(ben, "no_such_setting")
    assert not any(may_change_setting(eve, key) for key in ("currency", "lifecycle_rules", "lifecycle_stages"))


def test_the_lifecycle_settings_show_save_buttons_to_admins_only(demo_workspace):
    from crm_workspace_lifecycle.model import LifecycleModel
    from crm_workspace_lifecycle.views import LifecycleSettings

    def settings(user):
        return LifecycleSettings(model=LifecycleModel(workspace=demo_workspace.as_user(user)))

    admin = settings("ana")
    assert admin.save_stages.visible and admin.save_rules.visible
    for user in ("ben", "eve"):  # a member, a viewer
        screen = settings(user)
        assert not screen.save_stages.visible and not screen.save_rules.visible


def test_a_viewer_sees_the_pipeline_stages_without_edit_controls(demo_workspace):
    from crm_workspace_pipeline.model import PipelineModel
    from crm_workspace_pipeline.views.stage_settings import StageSettings

    from crm_workspace.testing import page_text

    viewer = StageSettings(model=PipelineModel(workspace=demo_workspace.as_user("eve")))
    text = page_text(viewer.__panel__())
    assert "Read-only" in text and "Save stage" not in text and "Add stage" not in text
    member = StageSettings(model=PipelineModel(workspace=demo_workspace.as_user("ben")))
    assert "Save stage" in page_text(member.__panel__())
