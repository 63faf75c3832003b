"""Marketing: segments, consented e-mail campaigns, tracking, sign-up forms."""

from __future__ import annotations

from crm_workspace import PersonalData, hookimpl

from .schema import migrations


@hookimpl
def crm_migrations():
    return migrations


@hookimpl
def crm_validate_record(workspace, table, record, before):
    if table == "segments":
        from .segments import validate_segment

        return validate_segment(workspace, record, before) or None
    return None


@hookimpl
def crm_record_changed(workspace, changes):
    """Segment members follow the contacts (and their organization, tags, activities ...) a write changed."""
    from .segments import on_changes

    on_changes(workspace, changes)


@hookimpl
def crm_register_commands(cli):
    from .commands import register

    register(cli)


@hookimpl
def crm_data_views(workspace):
    from . import views_data

    return views_data.data_views(workspace)


@hookimpl(trylast=True)
def crm_demo_data(workspace, seed, size, today):
    """Consent for part of the audience, segments, campaigns with history (after the other modules' rows)."""
    from .demo import add_demo

    add_demo(workspace, seed, size, today)


@hookimpl
def crm_personal_data(workspace):
    """Which lists a person is on (removed on erasure)."""
    return [PersonalData("segment_members", "contact_id", ("added_at",), title="segment_memberships", remove=True)]
