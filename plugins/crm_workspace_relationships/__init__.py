"""Stakeholder relationship map: who knows, reports to, influences whom.

Analyst access::

    import crm_workspace_relationships as rel
    g = rel.graph(ws, stakeholder_types=["executive"], min_strength=3)   # a networkx.Graph
    ws.df("relationships.path", origin="contacts:1", target="contacts:42")
    ws.dashboard("relationships")                                         # the map, inline
"""

from __future__ import annotations

from crm_workspace import Metric, Page, PersonalData, RecordSection, hookimpl

__all__ = ["graph"]


def graph(workspace, **filters):
    """The relationship graph as a ``networkx.Graph`` with the map's filters (see ``network.graph``).

    Filters: ``stakeholder_types``, ``organization_id``, ``kinds``, ``min_strength``,
    ``center`` (e.g. ``"contacts:12"``) and ``hops``. Nodes carry ``x``/``y`` from the cached layout.
    """
    from .network import graph as build  # networkx loads on first use: the CLI stays fast

    return build(workspace, **filters)


@hookimpl
def crm_migrations():
    from .schema import migrations

    return migrations


@hookimpl
def crm_dashboards(workspace):
    def view(ws):
        from .views import RelationshipMap

        return RelationshipMap(workspace=ws)

    return [Page("relationships", "Relationships", view, icon="affiliate", order=30)]


@hookimpl
def crm_metrics(workspace):
    sql = "SELECT count(*) FROM relationships"
    return [Metric("relationships", "Relationships", workspace.store.scalar(sql), sql=sql, page="relationships")]


@hookimpl
def crm_validate_record(workspace, table, record, before):
    if table != "relationships":
        return None
    from .rules import validate

    return validate(workspace, record, before)


crm_validate_record.tables = ("relationships",)  # the Store skips it for other tables


@hookimpl
def crm_demo_data(workspace, seed, size):
    """Two relationships for every three contacts."""
    from .demo import add_demo_relationships

    add_demo_relationships(workspace, seed, size)


@hookimpl
def crm_record_sections(workspace, table, record_id):
    if table != "contacts":
        return None

    def view():
        from .views import RelationshipEditor

        return RelationshipEditor(
            workspace=workspace, node=f"contacts:{int(record_id)}", show_open=False, show_map=True
        )

    return [RecordSection("Relationships", view, order=40, key="relationships.list")]


@hookimpl
def crm_data_views(workspace):
    from . import frames

    return frames.data_views(workspace)


@hookimpl
def crm_personal_data(workspace):
    """Relationships at either end of which the contact stands: their notes are personal."""
    return [
        PersonalData("relationships", "source_id", ("notes",), where="source_type = 'contacts'"),
        PersonalData("relationships", "target_id", ("notes",), where="target_type = 'contacts'"),
    ]
