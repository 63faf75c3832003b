"""Lifecycle tracker: where every contact is on the customer lifecycle, and how they move."""

from __future__ import annotations

import sqlite_utils

from crm_workspace import Page, hookimpl

from . import rules as _rules

migrations = sqlite_utils.Migrations("crm_workspace.lifecycle")


@migrations()
def m001_flags_and_indexes(db):
    """``flagged`` marks events accepted out of order; covering indexes for the funnel, cohorts and time in stage."""
    db["lifecycle_events"].add_column("flagged", str)
    for sql in (
        "CREATE INDEX IF NOT EXISTS idx_lifecycle_contact_stage ON lifecycle_events(contact_id, at, to_stage)",
        "CREATE INDEX IF NOT EXISTS idx_lifecycle_at_stage ON lifecycle_events(at, contact_id, to_stage, from_stage)",
        "CREATE INDEX IF NOT EXISTS idx_contacts_created ON contacts(created_at)",
        "CREATE INDEX IF NOT EXISTS idx_organizations_created ON organizations(created_at)",
        "CREATE INDEX IF NOT EXISTS idx_deals_created ON deals(created_at)",
    ):
        db.execute(sql)


@migrations()
def m002_stays(db):
    """``lifecycle_stays``: one row per event with the time until the contact's next event.

    Filled once with ``LEAD(at) OVER (PARTITION BY contact_id ORDER BY at, id)`` and kept
    current by a trigger on every insert into ``lifecycle_events`` (any path, even raw
    SQL), so time in stage is an index walk instead of a window over every event.
    """
    db.execute(
        "CREATE TABLE lifecycle_stays (event_id INTEGER PRIMARY KEY, contact_id INTEGER NOT NULL,"
        " stage TEXT NOT NULL, at TEXT NOT NULL, next_at TEXT, days REAL)"
    )
    db.execute(
        "INSERT INTO lifecycle_stays (event_id, contact_id, stage, at, next_at, days)"
        " SELECT id, contact_id, to_stage, at, next_at, julianday(next_at) - julianday(at) FROM ("
        " SELECT id, contact_id, to_stage, at,"
        " LEAD(at) OVER (PARTITION BY contact_id ORDER BY at, id) AS next_at FROM lifecycle_events)"
    )
    db.execute("CREATE INDEX idx_stays_stage_days ON lifecycle_stays(stage, days, at, contact_id)")
    db.execute("CREATE INDEX idx_stays_contact ON lifecycle_stays(contact_id, at, event_id)")
    db.execute(
        """
        CREATE TRIGGER lifecycle_stays_on_event AFTER INSERT ON lifecycle_events BEGIN
            UPDATE lifecycle_stays SET next_at = NEW.at, days = julianday(NEW.at) - julianday(at)
            WHERE event_id = (
                SELECT event_id FROM lifecycle_stays WHERE contact_id = NEW.contact_id
                AND (at < NEW.at OR (at = NEW.at AND event_id < NEW.id))
                ORDER BY at DESC, event_id DESC LIMIT 1);
            INSERT INTO lifecycle_stays (event_id, contact_id, stage, at, next_at, days)
            SELECT NEW.id, NEW.contact_id, NEW.to_stage, NEW.at, n.at, julianday(n.at) - julianday(NEW.at)
            FROM (SELECT (SELECT at FROM lifecycle_stays WHERE contact_id = NEW.contact_id
                          AND (at > NEW.at OR (at = NEW.at AND event_id > NEW.id))
                          ORDER BY at, event_id LIMIT 1) AS at) AS n;
        END
        """
    )


@hookimpl
def crm_migrations():
    return migrations


@hookimpl
def crm_validate_record(workspace, table, record, before):
    if table == "lifecycle_events" and before is None:
        return _rules.validate_event(workspace, record)
    return None


@hookimpl
def crm_record_changed(workspace, changes):
    """Append a lifecycle event for every contact whose stage changed, whoever changed it; then the rules."""
    events = _rules.events_for(changes)
    if events:
        # the stages were validated on the contact write and ``at`` is that write's time: no re-validation
        workspace.store.insert_many("lifecycle_events", events, audit=False, events=False, validate=False)
    _rules.apply_rules(workspace, changes)


@hookimpl
def crm_register_commands(cli):
    from .commands import register

    register(cli)


@hookimpl
def crm_dashboards(workspace):
    def view(ws):
        from .views import LifecyclePage

        return LifecyclePage(workspace=ws)

    return [Page("lifecycle", "Lifecycle", view, icon="refresh", order=40, extensions=("tabulator",))]


@hookimpl
def crm_metrics(workspace):
    from .metrics import kpis

    return kpis(workspace)


@hookimpl
def crm_data_views(workspace):
    from . import analytics, metrics

    def bind(fn, doc):
        def view(**filters):
            return fn(workspace, **filters)

        view.__doc__ = doc
        return view

    return {
        "lifecycle.funnel": bind(analytics.funnel, analytics.funnel.__doc__),
        "lifecycle.time_in_stage": bind(analytics.time_in_stage, analytics.time_in_stage.__doc__),
        "lifecycle.stuck": bind(analytics.stuck, analytics.stuck.__doc__),
        "lifecycle.cohorts": bind(analytics.cohorts, analytics.cohorts.__doc__),
        "lifecycle.flow": bind(analytics.flow, analytics.flow.__doc__),
        "lifecycle.journey": bind(analytics.journey, analytics.journey.__doc__),
        "lifecycle.adoption": bind(metrics.adoption, metrics.adoption.__doc__),
        "lifecycle.data_quality": bind(metrics.data_quality, metrics.data_quality.__doc__),
        "lifecycle.churn_risk": bind(metrics.churn_risk, metrics.churn_risk.__doc__),
    }
