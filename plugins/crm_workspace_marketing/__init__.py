"""Marketing: segments, consented e-mail campaigns, tracking, sign-up forms."""

from __future__ import annotations

from crm_workspace import Page, PersonalData, hookimpl

from .schema import migrations


@hookimpl
def crm_migrations():
    return migrations


@hookimpl
def crm_settings():
    from .bounces import SETTINGS as bounce_settings
    from .tracking import SETTINGS as tracking_settings

    return [*tracking_settings, *bounce_settings]


@hookimpl
def crm_validate_record(workspace, table, record, before):
    if table == "segments":
        from .segments import validate_segment

        return validate_segment(workspace, record, before) or None
    if table == "campaigns":
        from .campaigns import validate_campaign

        return validate_campaign(workspace, record, before) or None
    if table == "forms":
        from .forms import validate_form

        return validate_form(workspace, record, before) or None
    return None


crm_validate_record.tables = ("segments", "campaigns", "forms")  # the Store skips it for other tables


@hookimpl
def crm_record_changed(workspace, changes):
    """Segment members follow the contacts (and their organization, tags, activities ...) a write changed."""
    from .segments import on_changes

    on_changes(workspace, changes)


@hookimpl
def crm_routes(workspace):
    """Unsubscribe, open pixel and click links (signed), and the public sign-up forms."""
    from .forms_routes import form_routes
    from .routes import tracking_routes

    return [*tracking_routes(), *form_routes()]


@hookimpl
def crm_tick(workspace, now):
    """Due A/B decisions and their winners, the marketing queue, bounces, time-relative segments."""
    from .scheduler import TICK_LIMIT, tick

    tick(workspace, now, limit=TICK_LIMIT)


@hookimpl
def crm_register_commands(cli):
    from .commands import register

    register(cli)


@hookimpl
def crm_data_views(workspace):
    from . import views_data

    return views_data.data_views(workspace)


@hookimpl
def crm_dashboards(workspace):
    def view(ws):
        from .views import MarketingPage

        return MarketingPage(workspace=ws)

    return [Page("marketing", "Marketing", view, icon="speakerphone", order=45)]


@hookimpl(trylast=True)
def crm_demo_data(workspace, seed, size, today):
    """Consent for part of the audience, segments, campaigns with history (after the other modules' rows)."""
    from .demo import add_demo

    add_demo(workspace, seed, size, today)


@hookimpl
def crm_personal_data(workspace):
    """Lists a person is on, the campaigns sent to them, their opens/clicks, their suppressed address."""
    return [
        PersonalData("segment_members", "contact_id", ("added_at",), title="segment_memberships", remove=True),
        PersonalData("campaign_recipients", "contact_id", ("email",), title="campaigns_received"),
        PersonalData("marketing_events", "contact_id", ("ip", "user_agent", "url"), title="marketing_events"),
        PersonalData("marketing_suppressions", "contact_id", ("email", "detail"), title="suppressed_address"),
        PersonalData(
            "form_submissions", "contact_id", ("email", "first_name", "last_name", "ip", "user_agent"), title="sign_ups"
        ),
    ]
