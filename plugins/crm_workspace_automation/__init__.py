"""Webhooks out and workflow rules a team edits without code."""

from __future__ import annotations

from crm_workspace import Page, PersonalData, hookimpl

from .schema import OWN_TABLES, migrations


@hookimpl
def crm_migrations():
    return migrations


@hookimpl
def crm_settings():
    from .config import SETTINGS

    return SETTINGS


@hookimpl
def crm_validate_record(workspace, table, record, before):
    """Subscriptions go to an http(s) URL; rules keep JSON in their JSON columns."""
    if table == "webhook_subscriptions":  # only admins write it (schema.admin_table)
        from .netguard import UnsafeURL, parse

        if "url" in record:
            try:
                parse(record["url"])
            except UnsafeURL as error:
                return {"url": str(error)}
    elif table == "workflow_rules":
        import json

        errors = {}
        for key in ("conditions", "actions"):
            if key in record:
                try:
                    json.loads(record[key] or "[]")
                except (TypeError, ValueError):
                    errors[key] = "must be JSON (a list)"
        return errors or None
    return None


crm_validate_record.tables = ("webhook_subscriptions", "workflow_rules")  # the Store skips it for other tables


@hookimpl
def crm_record_changed(workspace, changes):
    """An outbox row for every subscribed event (one INSERT each), then the field-change rules."""
    if all(c.table in OWN_TABLES for c in changes):
        return
    from . import events, rules

    subs = events.subscriptions(workspace.store)
    if subs:
        events.enqueue(workspace, events.event_rows(subs, changes))
    rules.on_changes(workspace, changes)


@hookimpl
def crm_personal_data(workspace):
    """Webhook bodies hold the records they announce: exported with the contact, erased with them."""
    return [
        PersonalData("webhook_events", "contact_id", ("payload",), title="webhook_events"),
        PersonalData("webhook_deliveries", "contact_id", ("payload",), title="webhook_deliveries"),
    ]


@hookimpl
def crm_register_commands(cli):
    from .commands import register

    register(cli)


@hookimpl(trylast=True)
def crm_demo_data(workspace, seed, size, today):
    """After the other modules' demo data: the time rule's past runs are settled over every contact."""
    from .demo import add_demo

    add_demo(workspace, size, today)


@hookimpl
def crm_dashboards(workspace):
    def view(ws):
        from .views.page import AutomationPage

        return AutomationPage(workspace=ws)

    return [Page("automation", "Automation", view, icon="route", order=85)]


@hookimpl
def crm_data_views(workspace):
    from .model import data_views

    return data_views(workspace)


@hookimpl
def crm_tick(workspace, now):
    """Due webhook deliveries and time rules (disabling rules whose fields are gone), then,
    about hourly, the retention of the delivery log (``webhooks_retention_days``, retention.py).

    In ``crm serve`` the ticks run on a background thread; the first one also starts the
    delivery thread, which looks every second, so webhooks leave within seconds of a write
    instead of at the next tick (``crm serve --no-tick`` turns both off; ``crm tick`` from
    cron, or ``crm webhooks deliver --loop``, deliver instead).
    """
    import threading

    from . import delivery, retention, rules

    if threading.current_thread() is not threading.main_thread():
        delivery.start_thread(workspace)
    delivery.deliver_due(workspace, now=now)
    rules.run_time_rules(workspace, now=now)
    retention.prune_due(workspace, now)
