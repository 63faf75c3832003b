"""Service: tickets with SLAs in business hours, queues, e-mail in and out (docs/service.md)."""

from __future__ import annotations

from crm_workspace import Page, PersonalData, RecordSection, Setting, hookimpl

from . import rules as _rules
from .schema import migrations


def _positive_int(value):
    number = int(value)
    if number <= 0:
        raise ValueError(f"must be a positive whole number, not {value!r}")
    return number


def _text(value):
    return str(value or "").strip()


def _flag(value):
    if isinstance(value, bool) or value in (0, 1):
        return bool(value)
    raise ValueError(f"must be true or false, not {value!r}")


def _escalation(value):
    value = str(value or "off").strip()
    if value in ("off", "notify") or (value.startswith("reassign:") and value[9:]):
        return value
    raise ValueError("use off, notify or reassign:USERNAME")


@hookimpl
def crm_settings():
    return [
        Setting(
            "service_attachment_max_bytes",
            _positive_int,
            10_000_000,
            doc="Largest attachment kept with a ticket, in bytes.",
        ),
        Setting(
            "service_message_max_bytes",
            _positive_int,
            25_000_000,
            doc="Largest inbound e-mail read whole; a bigger one is kept as headers only.",
        ),
        Setting(
            "service_sla_soon_minutes",
            _positive_int,
            60,
            doc="Business minutes before a breach at which a ticket is 'breaching soon'.",
        ),
        Setting(
            "service_mailbox",
            _text,
            "",
            doc="The support mailbox `crm service fetch` and `crm serve` read: maildir:/path or imaps://user@host/INBOX.",
        ),
        Setting(
            "service_address",
            _text,
            "",
            doc="The support address replies are sent from (default: the mailer's mail_from).",
        ),
        Setting(
            "service_acknowledge",
            _flag,
            True,
            doc="E-mail a 'we got your request [#123]' to the sender of each new ticket (never to auto-replies or bulk mail).",
        ),
        Setting(
            "service_escalation",
            _escalation,
            "notify",
            doc="On an SLA breach, within business hours: off, notify (e-mail the assignee) or reassign:USERNAME.",
        ),
    ]


@hookimpl
def crm_migrations():
    return migrations


@hookimpl
def crm_validate_record(workspace, table, record, before):
    if table == "tickets":
        return _rules.check_ticket(workspace, record, before) or None
    if table == "ticket_messages":
        return _rules.check_message(record, before) or None
    if table == "ticket_attachments":
        return _rules.check_attachment(workspace, record, before) or None
    if table == "business_calendars":
        return _rules.check_calendar(record, before) or None
    if table == "sla_policies":
        return _rules.check_policy(record, before) or None
    return None


# the Store skips it for other tables
crm_validate_record.tables = ("tickets", "ticket_messages", "ticket_attachments", "business_calendars", "sla_policies")


@hookimpl
def crm_record_changed(workspace, changes):
    """Every ticket insert and change of status, priority or policy is appended to its status history."""
    rows = _rules.history_rows(changes)
    if rows:
        workspace.store.insert_many("ticket_status_history", rows, audit=False, events=False, validate=False)


@hookimpl
def crm_routes(workspace):
    """The customer portal behind signed links: /s/p/<token> (a requester's tickets, their thread, a reply form)."""
    from .portal import routes

    return routes()


@hookimpl
def crm_tick(workspace, now):
    """Poll the support mailbox (if set), escalate breaches within business hours, deliver replies."""
    from .tick import tick

    tick(workspace, now)


@hookimpl
def crm_register_commands(cli):
    from .commands import register

    register(cli)


@hookimpl
def crm_dashboards(workspace):
    def view(ws):
        from .views.page import ServicePage

        return ServicePage(workspace=ws)

    return [Page("service", "Service", view, icon="lifebuoy", order=35, extensions=("tabulator",))]


@hookimpl
def crm_metrics(workspace):
    from .metrics import kpis

    return kpis(workspace)


@hookimpl
def crm_data_views(workspace):
    from .metrics import data_views

    return data_views(workspace)


@hookimpl
def crm_record_sections(workspace, table, record_id):
    if table not in ("contacts", "organizations"):
        return None

    def view():
        from .views.record_section import tickets_section

        return tickets_section(workspace, table, int(record_id))

    return [RecordSection("Tickets", view, order=40, key="service.tickets")]


@hookimpl
def crm_demo_data(workspace, seed, size, today):
    from .demo import add_demo_tickets

    add_demo_tickets(workspace, seed, size, today)


@hookimpl
def crm_personal_data(workspace):
    """A requester's tickets, the e-mails in their threads (body and addresses erased, times kept) and their files."""
    return [
        PersonalData("tickets", "requester_id", fields=("subject", "description")),
        PersonalData(
            "ticket_messages", "author_contact_id", fields=("body_text", "body_html", "sender", "recipients", "subject")
        ),
        # files of their tickets and of the messages they wrote: rows reached through a join
        PersonalData("ticket_attachments", "", where=_THEIR_ATTACHMENTS, remove=True),
        # the bytes (content-addressed, shared by equal files): only those no other ticket still uses.
        # Erasure chooses every declaration's rows before changing any, so this holds whatever the order.
        PersonalData(
            "ticket_attachment_blobs",
            "",
            where=f"sha256 IN (SELECT sha256 FROM ticket_attachments WHERE {_THEIR_ATTACHMENTS})"
            f" AND sha256 NOT IN (SELECT sha256 FROM ticket_attachments WHERE sha256 IS NOT NULL"
            f" AND NOT coalesce({_THEIR_ATTACHMENTS}, 0))",  # NULL (no message): not theirs, so another's
            title="ticket_attachment_files",
            remove=True,
        ),
    ]


_THEIR_ATTACHMENTS = (
    "(ticket_id IN (SELECT id FROM tickets WHERE requester_id = :contact)"
    " OR ticket_message_id IN (SELECT id FROM ticket_messages WHERE author_contact_id = :contact))"
)
