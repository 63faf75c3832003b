"""Calendars: iCalendar feeds of tasks and meetings, and .ics import."""

from __future__ import annotations

from crm_workspace import Page, PersonalData, Route, hookimpl

from .schema import migrations


@hookimpl
def crm_migrations():
    return migrations


@hookimpl
def crm_routes(workspace):
    from .routes import FeedHandler

    return [Route(r"/ical/([A-Za-z0-9_-]{16,128})\.ics", FeedHandler)]


@hookimpl
def crm_register_commands(cli):
    from .commands import register

    register(cli)


@hookimpl
def crm_personal_data(workspace):
    """Which imported meeting was logged on a contact, and its organizer's address."""
    return [PersonalData("calendar_events", "contact_id", fields=("organizer",), title="calendar_imports")]


@hookimpl
def crm_data_views(workspace):
    def upcoming(days=30, user=None, limit=100):
        """Meetings from now to `days` ahead (of `user`, or everyone's), soonest first: the Calendar page's list."""
        import pandas as pd

        from .imports import upcoming as rows

        return pd.DataFrame(
            rows(workspace, user=user, days=int(days), limit=int(limit)),
            columns=["id", "starts_at", "subject", "owner", "contact_id", "contact", "organization"],
        )

    return {"calendar.upcoming": upcoming}


@hookimpl
def crm_dashboards(workspace):
    def view(ws):
        from .views import CalendarPage

        return CalendarPage(workspace=ws)

    return [Page("calendar", "Calendar", view, icon="calendar", order=14)]
