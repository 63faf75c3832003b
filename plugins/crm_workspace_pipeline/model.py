"""The pipeline model: params over the Store, no widgets — one class a page, a command or a notebook holds.

``PipelineModel`` joins the filters every query shares (``filters``) with the board's
columns and their shared cache (``board_data``), the forecast (``forecast``), moves and
the deal form (``deals``), and the stage settings (``stages``). The same methods back
the ``pipeline.*`` data views, so a notebook gets the numbers the dashboard shows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import stages as stage_settings
from .board_data import BoardQueries
from .deals import DealActions
from .forecast import ForecastQueries

if TYPE_CHECKING:
    import pandas


class PipelineModel(BoardQueries, ForecastQueries, DealActions):
    """One person's view of a pipeline: filters, sort, cards shown; its board, forecast, moves and stages."""

    def save_stage(self, stage: str, **fields: Any) -> dict[str, Any]:
        """Change a stage's label, position, default probability, status or rot limit (days)."""
        return stage_settings.save_stage(self.workspace, self.pipeline, stage, **fields)

    def add_stage(self, stage: str, **fields: Any) -> dict[str, Any]:
        """Add a stage to this pipeline (at the end unless ``position`` is given)."""
        return stage_settings.add_stage(self.workspace, self.pipeline, stage, **fields)

    def add_pipeline(self, name: str, copy_from: str = "default") -> None:
        """A new pipeline, starting with a copy of ``copy_from``'s stages (offered as a choice at once)."""
        stage_settings.add_pipeline(self.workspace, name, copy_from)
        self.load_pipelines()

    def stages_frame(self) -> pandas.DataFrame:
        """``pipeline.stages``: the stage settings of this pipeline."""
        import pandas as pd

        return pd.DataFrame(self.stages())
