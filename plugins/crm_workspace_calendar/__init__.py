"""Calendars: iCalendar feeds of tasks and meetings, and .ics import."""

from __future__ import annotations

from crm_workspace import Page, PersonalData, Route, Setting, hookimpl

from .schema import migrations


@hookimpl
def crm_migrations():
    return migrations


def _mailbox_spec(value):
    text = str(value or "").strip()
    if text and not text.startswith(("imap://", "imaps://", "maildir:", "/", "~", ".")):
        raise ValueError(f"must be a Maildir path or imap[s]://user@host/folder, not {text!r}")
    return text


@hookimpl
def crm_settings():
    return [
        Setting(
            "calendar_mailbox",
            _mailbox_spec,
            "",
            doc="A mailbox that receives meeting invitations (a Maildir path or imap[s]://user@host/folder): "
            "each tick logs their meetings on the attendees' contacts. Empty: off.",
        )
    ]


@hookimpl
def crm_tick(workspace, now):
    """Import the invitations that arrived in ``calendar_mailbox`` (when one is set)."""
    if not workspace.setting("calendar_mailbox", ""):
        return
    from .inbox import import_mailbox

    import_mailbox(workspace)


@hookimpl
def crm_record_changed(workspace, changes):
    """An imported meeting moved to another contact (a merge): its import key follows it."""
    if any(c.table == "activities" and c.action == "update" for c in changes):
        from .imports import follow_moves

        follow_moves(workspace, changes)


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

    def feed(user=None):
        """The tasks and meetings in `user`'s calendar feed (default: the acting user): what their calendar app shows."""
        import pandas as pd

        from .feeds import feed_rows

        columns = ["id", "kind", "at", "subject", "contact", "organization", "done", "version", "ends_at", "all_day"]
        return pd.DataFrame(feed_rows(workspace, user or workspace.user), columns=columns).sort_values("at")

    return {"calendar.upcoming": upcoming, "calendar.feed": feed}


@hookimpl
def crm_demo_data(workspace, seed, size, today):
    """Each team member's next two weeks: a few meetings and tasks for the Calendar page and feeds."""
    from .demo import add_upcoming

    add_upcoming(workspace, seed, size, today)


@hookimpl
def crm_dashboards(workspace):
    def view(ws):
        from .views import CalendarPage

        return CalendarPage(workspace=ws)

    return [Page("calendar", "Calendar", view, icon="calendar", order=14)]
