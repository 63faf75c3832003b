"""DataFrames of the map's data: ``ws.df("relationships.<name>", **filters)`` and the analysis tab."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import network, queries

if TYPE_CHECKING:
    import pandas

    from crm_workspace import Workspace

EDGE_COLUMNS = ["source", "source_name", "target", "target_name", "kind", "strength", "relationship_id"]


def edges(ws: Workspace, **filters: Any) -> pandas.DataFrame:
    """One row per tie (kind) of the filtered graph; ``relationship_id`` is empty for membership."""
    import pandas as pd

    sub = network.graph(ws, **filters)
    rows = [
        (a, sub.nodes[a]["name"], b, sub.nodes[b]["name"], kind, strength, rel_id)
        for a, b, data in sub.edges(data=True)
        for kind, (strength, rel_id) in sorted(data["ties"].items())
    ]
    return pd.DataFrame(rows, columns=EDGE_COLUMNS).astype({"relationship_id": "Int64"})


def nodes(ws: Workspace, **filters: Any) -> pandas.DataFrame:
    import pandas as pd

    sub = network.graph(ws, **filters)
    cols = ["node", "name", "stakeholder_type", "organization", "title", "x", "y"]
    return pd.DataFrame([{"node": n, **{c: d.get(c) for c in cols[1:]}} for n, d in sub.nodes(data=True)], columns=cols)


def connectors(ws: Workspace, top: int = 25) -> pandas.DataFrame:
    import pandas as pd

    cols = ["node", "name", "stakeholder_type", "organization", "betweenness", "cut", "ties"]
    return pd.DataFrame(network.connectors(network.state(ws), top=int(top)), columns=cols)


def path(ws: Workspace, origin: str, target: str, **filters: Any) -> pandas.DataFrame:
    """The introduction path ``origin`` -> ``target`` (nodes like ``"contacts:12"``)."""
    import pandas as pd

    sub = network.graph(ws, **filters) if filters else network.state(ws).graph
    cols = ["step", "from", "from_name", "to", "to_name", "kind", "strength"]
    return pd.DataFrame(network.introduction_path(sub, origin, target), columns=cols)


def isolated(ws: Workspace, limit: int = 200, offset: int = 0) -> pandas.DataFrame:
    import pandas as pd

    return pd.DataFrame(queries.isolated(ws, limit, offset), columns=["id", "name", "stakeholder_type", "organization"])


def single_threaded(ws: Workspace, limit: int = 200) -> pandas.DataFrame:
    import pandas as pd

    cols = ["id", "title", "stage", "amount", "currency", "organization_id", "organization", "threads",
            "thread_contact_id", "thread_contact"]  # fmt: skip
    return pd.DataFrame(queries.single_threaded_deals(ws, limit), columns=cols)


def inferred(ws: Workspace, limit: int = 100) -> pandas.DataFrame:
    import pandas as pd

    cols = ["source_id", "source_name", "target_id", "target_name", "shared", "strength", "occasions"]
    return pd.DataFrame(queries.inferred_ties(ws, limit), columns=cols)


def data_views(ws: Workspace) -> dict[str, Any]:
    def bind(fn):
        return lambda **filters: fn(ws, **filters)

    return {
        f"relationships.{name}": bind(fn)
        for name, fn in {
            "edges": edges,
            "nodes": nodes,
            "connectors": connectors,
            "path": path,
            "isolated": isolated,
            "single_threaded": single_threaded,
            "inferred": inferred,
        }.items()
    }
