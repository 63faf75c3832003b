"""Satisfaction: CSAT after a solved ticket, NPS surveys to customers, churn-risk flags."""

from __future__ import annotations

from crm_workspace import ApiResource, Page, PersonalData, RecordSection, Route, Setting, hookimpl

from .schema import migrations


def _flag(value):
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, not {value!r}")
    return value


def _days(value):
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 3650:
        raise ValueError(f"must be a whole number of days from 0 (off) to 3650, not {value!r}")
    return value


@hookimpl
def crm_settings():
    return [
        Setting("csat_enabled", _flag, True, doc="E-mail a one-question CSAT survey when a ticket is solved."),
        Setting("nps_every_days", _days, 90, doc="Send the NPS survey to customers every N days (0: never)."),
        Setting(
            "nps_require_consent", _flag, False,
            doc="Send NPS only to customers who gave marketing consent (default: all but those who withdrew it).",
        ),
    ]  # fmt: skip


@hookimpl
def crm_migrations():
    return migrations


@hookimpl
def crm_validate_record(workspace, table, record, before):
    if table != "survey_responses":
        return None
    from .rules import validate

    return validate(workspace, record, before) or None


crm_validate_record.tables = ("survey_responses",)  # the Store skips it for other tables


@hookimpl
def crm_record_changed(workspace, changes):
    """A ticket becoming solved queues its CSAT e-mail (once per ticket)."""
    from .rules import queue_csat, solved_tickets

    for ticket in solved_tickets(changes):
        queue_csat(workspace, ticket)


@hookimpl
def crm_tick(workspace, now):
    """Queue the NPS survey when a period starts, then deliver this plugin's queued mail."""
    from crm_workspace.services.outbox import deliver

    from .nps import PER_TICK, send_nps

    send_nps(workspace, now, limit=PER_TICK)
    if workspace.store.scalar("SELECT 1 FROM mail_outbox WHERE plugin = 'surveys' AND status = 'queued' LIMIT 1"):
        deliver(workspace, plugin="surveys")


@hookimpl
def crm_routes(workspace):
    from .routes import CsatHandler, NpsHandler

    return [Route(r"/s/csat/([A-Za-z0-9_.=-]+)", CsatHandler), Route(r"/s/nps/([A-Za-z0-9_.=-]+)", NpsHandler)]


@hookimpl
def crm_personal_data(workspace):
    """Survey answers (their comments are the person's words) and churn-risk flags."""
    return [
        PersonalData("survey_responses", "contact_id", fields=("comment",), title="survey_responses"),
        PersonalData("survey_flags", "contact_id", title="churn_risk_flags"),
        PersonalData("survey_optouts", "contact_id", title="survey_optouts"),
    ]


@hookimpl
def crm_dashboards(workspace):
    def view(ws):
        from .views import SatisfactionPage

        return SatisfactionPage(workspace=ws)

    return [Page("surveys", "Satisfaction", view, icon="mood-smile", order=76)]


@hookimpl
def crm_metrics(workspace):
    from .metrics import kpis

    return kpis(workspace)


@hookimpl
def crm_data_views(workspace):
    import pandas as pd

    from . import metrics

    def responses(kind=None, days=None, limit=None):
        """Survey answers (csat: 1 good / 0 bad; nps: 0-10), newest first, with agent and team when tickets exist."""
        return pd.DataFrame(metrics.responses(workspace, kind, days, limit))

    def summary(by=None, days=90):
        """CSAT % and NPS with their counts, overall or ``by`` agent or team, over ``days`` (None: all)."""
        return pd.DataFrame(metrics.summary(workspace, by, days))

    def churn_risk():
        """Contacts with an open churn-risk flag from a low survey score."""
        return pd.DataFrame(metrics.churn_risk(workspace))

    return {"surveys.responses": responses, "surveys.summary": summary, "surveys.churn_risk": churn_risk}


@hookimpl
def crm_record_sections(workspace, table, record_id):
    """On a contact's page: their survey answers and churn-risk flag (with a button to clear it)."""
    if table != "contacts":
        return None

    def view():
        from .views import ContactSection

        return ContactSection(workspace=workspace, contact_id=int(record_id))

    return [RecordSection("Satisfaction", view, order=80, key="surveys.contact")]


@hookimpl(trylast=True)
def crm_demo_data(workspace, seed, size, today):
    """After the other modules' demo data: CSAT answers go on the help desk's solved tickets."""
    from .demo import add_demo

    add_demo(workspace, seed, today)


@hookimpl
def crm_register_commands(cli):
    from .commands import register

    register(cli)


@hookimpl
def crm_api_resources(workspace):
    """Survey answers, read-only: they are written only by the person answering through a signed link."""
    return [ApiResource("survey_responses", "survey_responses", title="CSAT and NPS answers", writable=False)]
