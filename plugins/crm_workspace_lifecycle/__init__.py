"""Lifecycle tracker: where every contact is on the customer lifecycle, and how they move."""

from __future__ import annotations

from crm_workspace import Page, PersonalData, Setting, hookimpl
from crm_workspace.data import checks

from . import rules as _rules
from .schema import migrations


def _rule_settings(value):
    """The stored ``lifecycle_rules``: known rules, each a mapping (``rules.set_rules`` checks the values)."""
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise ValueError(f"must map rule names to their settings, not {value!r}")
    unknown = sorted(set(value) - set(_rules.DEFAULT_RULES))
    if unknown:
        raise ValueError(f"unknown rules: {', '.join(unknown)} (rules: {', '.join(_rules.DEFAULT_RULES)})")
    return value


@hookimpl
def crm_settings():
    """The automatic lifecycle rules: they move every contact, so only admins change them."""
    return [Setting("lifecycle_rules", _rule_settings, {}, doc="Which automatic lifecycle rules run, and how.")]


@hookimpl
def crm_migrations():
    return migrations


@hookimpl
def crm_validate_record(workspace, table, record, before):
    """An event's time (on insert), then stages the workspace knows."""
    if table != "lifecycle_events":
        return None
    errors = (_rules.validate_event(workspace, record) if before is None else None) or {}
    checks.strip_text(record)
    stages = workspace.lifecycle_stages()
    fields: dict[str, str] = {}
    checks.choice(record, "to_stage", stages, fields)
    checks.choice(record, "from_stage", stages, fields)
    for field, message in fields.items():
        errors.setdefault(field, message)
    return errors or None


crm_validate_record.tables = ("lifecycle_events",)  # the Store skips it for other tables


@hookimpl
def crm_record_changed(workspace, changes):
    """Append a lifecycle event for every contact whose stage changed, whoever changed it; then the rules."""
    events = _rules.events_for(changes)
    if events:
        # the stages were validated on the contact write and ``at`` is that write's time: no re-validation
        workspace.store.insert_many("lifecycle_events", events, audit=False, events=False, validate=False)
    _rules.apply_rules(workspace, changes)


@hookimpl
def crm_demo_data(workspace, seed, size, today):
    """Every contact's history up to its current stage."""
    from .demo import add_demo_history

    add_demo_history(workspace, seed, size, today)


@hookimpl
def crm_register_commands(cli):
    from .commands import register

    register(cli)


@hookimpl
def crm_dashboards(workspace):
    def view(ws):
        from .views import LifecyclePage

        return LifecyclePage(workspace=ws)

    return [Page("lifecycle", "Lifecycle", view, icon="refresh", order=40)]


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


@hookimpl
def crm_personal_data(workspace):
    """The contact's stage history: exported; kept on erasure (stages and times are not personal)."""
    return [PersonalData("lifecycle_events", "contact_id", title="lifecycle_history")]
