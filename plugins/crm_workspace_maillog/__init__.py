"""E-mail logging: messages BCC'd or forwarded to the logging mailbox filed on contacts."""

from __future__ import annotations

from crm_workspace import Page, PersonalData, Setting, hookimpl

from .schema import migrations


def _mailbox_spec(value):
    text = str(value or "").strip()
    if text and not (text.startswith(("imap://", "imaps://", "maildir:", "/", "~", "."))):
        raise ValueError(f"must be a Maildir path (/var/mail/crm-log) or imap[s]://user@host/folder, not {text!r}")
    return text


def _address(value):
    text = str(value or "").strip().lower()
    if text and ("@" not in text or " " in text):
        raise ValueError(f"must be an e-mail address, not {value!r}")
    return text


@hookimpl
def crm_migrations():
    return migrations


@hookimpl
def crm_settings():
    return [
        Setting(
            "maillog_mailbox",
            _mailbox_spec,
            "",
            doc="The logging mailbox team members BCC or forward mail to: a Maildir path or imap[s]://user@host/folder "
            "(password in CRM_IMAP_PASSWORD). Empty: e-mail logging is off.",
        ),
        Setting("maillog_address", _address, "", doc="The logging mailbox's own address (never taken for a contact)."),
    ]


@hookimpl
def crm_tick(workspace, now):
    """Poll the logging mailbox (when one is set)."""
    if not workspace.setting("maillog_mailbox", ""):
        return
    from .filing import log_mailbox

    log_mailbox(workspace)


@hookimpl
def crm_record_changed(workspace, changes):
    """A logged e-mail moved to another contact (a merge): its link follows it."""
    if any(c.table == "activities" and c.action == "update" for c in changes):
        from .filing import follow_moves

        follow_moves(workspace, changes)


@hookimpl
def crm_register_commands(cli):
    from .commands import register

    register(cli)


@hookimpl
def crm_personal_data(workspace):
    """Which logged message is on a contact; an address on the review list once resolved to a contact."""
    return [
        PersonalData("maillog_links", "contact_id", title="mail_log"),
        PersonalData("maillog_review", "contact_id", fields=("address", "name"), title="mail_log_review"),
    ]


@hookimpl
def crm_demo_data(workspace, seed, size, today):
    from .demo import add_demo_review

    add_demo_review(workspace, seed, size, today)


@hookimpl
def crm_data_views(workspace):
    def to_review(status="open", limit=200):
        """Addresses mail named that are no contact, waiting for a person: the Mail log page's list."""
        import pandas as pd

        from .review import review_rows

        columns = [
            "id",
            "address",
            "name",
            "first_seen",
            "last_seen",
            "status",
            "contact_id",
            "message_ref",
            "messages",
            "first_subject",
        ]
        return pd.DataFrame(review_rows(workspace, status, int(limit)), columns=columns)

    return {"maillog.review": to_review}


@hookimpl
def crm_dashboards(workspace):
    def view(ws):
        from .views import MailLogPage

        return MailLogPage(workspace=ws)

    return [Page("maillog", "Mail log", view, icon="mail", order=15)]
