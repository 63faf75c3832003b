"""The marketing data views: what the page shows, as DataFrames for a notebook (``ws.df("marketing.…")``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from crm_workspace import Workspace

SEGMENT_COLUMNS = ["id", "name", "kind", "members", "status", "problem", "conditions", "built_at", "owner"]


def data_views(workspace: Workspace) -> dict:
    from . import segments

    def segment(name: str | int, limit: int | None = None) -> pd.DataFrame:
        """A segment's members (id, name, email, stage, type, owner, organization, consent, added_at);
        ``attrs["sql"]`` is the query, ``attrs["definition_sql"]`` the filter deciding membership."""
        return segments.members_frame(workspace, name, limit=limit)

    def segment_list() -> pd.DataFrame:
        """Every segment: kind, member count, status (broken: its filter names a missing field), conditions."""
        import pandas as pd

        return pd.DataFrame(segments.list_segments(workspace), columns=SEGMENT_COLUMNS)

    return {"marketing.segment": segment, "marketing.segments": segment_list}
