"""Nurture sequences: e-mail automation triggered by events, run step by step by the scheduler.

A second plugin inside the marketing package (entry point ``sequences``). It imports from the
marketing modules only ``render`` (merge fields, rendering, footer, pixel), ``tracking``
(signed unsubscribe and open links), ``mailable`` and ``erased`` (erased people are never
enrolled), and reads the marketing tables ``segments``,
``segment_members``, ``forms``, ``marketing_events`` and ``marketing_suppressions`` by SQL.
"""

from __future__ import annotations

from crm_workspace import Page, PersonalData, hookimpl

from .schema import migrations


@hookimpl
def crm_migrations():
    return migrations


@hookimpl
def crm_validate_record(workspace, table, record, before):
    if table == "sequences":
        from .checks import validate_sequence

        return validate_sequence(workspace, record, before) or None
    return None


crm_validate_record.tables = ("sequences",)  # the Store skips it for other tables


@hookimpl
def crm_record_changed(workspace, changes):
    """Enrol contacts whose write matches a trigger (one INSERT each); exit erased people."""
    from .model import on_changes

    on_changes(workspace, changes)


@hookimpl
def crm_tick(workspace, now):
    """Due steps of every active sequence, then their e-mail delivered (a bounded batch)."""
    from .runner import run

    run(workspace, now, limit=500)


@hookimpl
def crm_register_commands(cli):
    from .commands import register

    register(cli)


@hookimpl
def crm_data_views(workspace):
    from .data import data_views

    return data_views(workspace)


@hookimpl
def crm_dashboards(workspace):
    def view(ws):
        from .views import SequencesPage

        return SequencesPage(workspace=ws)

    return [Page("sequences", "Sequences", view, icon="clock", order=46, extensions=("tabulator",))]


@hookimpl(trylast=True)
def crm_demo_data(workspace, seed, size, today):
    """A welcome series with people at each step and its run history."""
    from .demo import add_demo

    add_demo(workspace, seed, size, today)


@hookimpl
def crm_personal_data(workspace):
    """The sequences a person is (or was) in."""
    return [PersonalData("sequence_enrollments", "contact_id", (), title="sequences")]
