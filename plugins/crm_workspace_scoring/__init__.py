"""Lead scores, explained: rule points broken down by rule, and a model trained on the workspace's history.

Tables (docs/scoring.md): ``score_rules``, ``score_models``, ``score_rule_stats``,
``score_runs`` and ``lead_scores(contact_id, rule_points, model_score, model_version,
updated_at)``, which the marketing plugin's segments read by SQL. A contact's breakdown
by rule is computed on demand.
"""

from __future__ import annotations

from crm_workspace import Page, PersonalData, RecordSection, Setting, hookimpl

from .schema import migrations


def _stage_list(value):
    if not isinstance(value, list) or not value or not all(isinstance(s, str) and s.strip() for s in value):
        raise ValueError(f"must be a non-empty list of stage names, not {value!r}")
    return [s.strip() for s in value]


def _points(value):
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"must be a number of points, not {value!r}")
    return value


def _hours(value):
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 24 * 30:
        raise ValueError(f"must be a number of hours from 0 to 720, not {value!r}")
    return value


@hookimpl
def crm_settings():
    return [
        Setting(
            "scoring_won_stages",
            _stage_list,
            ["customer", "advocate", "churned"],
            doc="Lifecycle stages that count as 'became a customer' when the lead-score model learns.",
        ),
        Setting("scoring_hot_points", _points, 20, doc="Rule points from which a lead counts as hot."),
        Setting(
            "scoring_refresh_hours",
            _hours,
            6,
            doc="Rescore everyone (engagement points decay with time) when the scores are older than this.",
        ),
    ]


@hookimpl
def crm_migrations():
    return migrations


@hookimpl
def crm_validate_record(workspace, table, record, before):
    if table != "score_rules":
        return None
    from .rules import validate

    return validate(workspace, record, before)


crm_validate_record.tables = ("score_rules",)  # the Store skips it for other tables


@hookimpl
def crm_record_changed(workspace, changes):
    """Rescore the contacts a write touched (a rule or a new model: everyone), in the same transaction.

    A write touching more than ``engine.INLINE_LIMIT`` contacts (an import) queues them in
    ``score_dirty`` instead; the next tick (or ``crm scoring rescore``) scores them.
    """
    from . import engine

    gone = engine.forget_erased(workspace, changes)
    ids, everyone = engine.touched_contacts(workspace.store, changes, gone)
    if everyone:
        engine.rescore(workspace)
    elif len(ids) > engine.INLINE_LIMIT:  # an import: queued for the next tick, the import stays fast
        engine.queue(workspace, ids)
    elif ids:
        engine.rescore(workspace, ids)


@hookimpl
def crm_tick(workspace, now):
    """Engagement points decay: rescore everyone when the last full rescore is older than scoring_refresh_hours."""
    from .engine import refresh_if_stale

    refresh_if_stale(workspace, now)


@hookimpl(wrapper=True)
def crm_demo_data(workspace, size, today):
    """The suggested rules, everyone scored, and a model trained on the demo's history (after the other modules).

    A wrapper, not ``trylast``: other modules' demos are ``trylast`` too (surveys adds CSAT
    notes, unaudited and without events), and any of them running later left stale scores.
    """
    result = yield
    from .demo import add_demo_scoring

    add_demo_scoring(workspace, size, today)
    return result


@hookimpl(trylast=True)  # after the marketing plugin made its group: `crm marketing train-score` joins it
def crm_register_commands(cli):
    from .commands import register

    register(cli)


@hookimpl
def crm_dashboards(workspace):
    def view(ws):
        from .views import ScoringPage

        return ScoringPage(workspace=ws)

    return [Page("scoring", "Lead scores", view, icon="target", order=42)]


@hookimpl
def crm_record_sections(workspace, table, record_id):
    if table != "contacts":
        return None

    def view():
        from .views import score_section

        return score_section(workspace, int(record_id))

    return [RecordSection("Lead score", view, order=35, key="scoring.lead-score")]


@hookimpl
def crm_metrics(workspace):
    from .frames import kpis

    return kpis(workspace)


@hookimpl
def crm_data_views(workspace):
    from .frames import data_views

    return data_views(workspace)


@hookimpl
def crm_personal_data(workspace):
    """A contact's scores: exported; removed on erasure (derived, nothing to keep)."""
    return [PersonalData("lead_scores", "contact_id", title="lead_scores", remove=True)]
