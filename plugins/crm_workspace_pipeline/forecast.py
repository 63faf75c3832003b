"""The forecast: open pipeline by expected-close month and by owner, key figures, slipped deals.

All aggregated in SQL over the same filters as the board (``PipelineFilters``); each
method also backs a ``pipeline.*`` data view, so a notebook gets the dashboard's numbers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import param

from .filters import PipelineFilters

if TYPE_CHECKING:
    import pandas


class ForecastQueries(PipelineFilters):
    """Forecast figures of the filtered deals."""

    slipped_limit = param.Integer(default=200, doc="How many slipped dates ``slipped()`` lists at most.")

    def _open_where(self) -> tuple[str, dict[str, Any]]:
        where, params = self._where()
        return f"{where} AND d.status = 'open'", params

    def forecast_by_month(self) -> pandas.DataFrame:
        """``pipeline.forecast_by_month``: open deals by expected-close month: count, amount, weighted.

        Every month from the first to the last is a row (zeros where nothing closes), so a
        chart's axis keeps time's spacing; deals with no date come last as "no date".
        """
        where, params = self._open_where()
        return _every_month(
            self._frame(
                "SELECT coalesce(substr(d.expected_close, 1, 7), 'no date') AS month, count(*) AS deals,"
                " total(d.amount) AS amount, total(d.amount * d.probability / 100.0) AS weighted"
                f" FROM deals d INDEXED BY idx_deals_pipeline_cover WHERE {where} GROUP BY 1 ORDER BY 1",
                params,
            )
        )

    def forecast_by_owner(self) -> pandas.DataFrame:
        """``pipeline.forecast_by_owner``: open deals by owner: count, amount, weighted (largest first)."""
        where, params = self._open_where()
        return self._frame(
            "SELECT coalesce(d.owner, '(nobody)') AS owner, count(*) AS deals, total(d.amount) AS amount,"
            " total(d.amount * d.probability / 100.0) AS weighted"
            f" FROM deals d INDEXED BY idx_deals_pipeline_cover WHERE {where} GROUP BY 1 ORDER BY weighted DESC, owner",
            params,
        )

    def kpis(self) -> dict[str, Any]:
        """Win rate, average won deal size, average sales cycle (days, created → won), open totals."""
        where, params = self._where()
        row = self.store.query(
            "SELECT sum(d.status = 'won') AS won, sum(d.status = 'lost') AS lost, sum(d.status = 'open') AS open,"
            " avg(CASE WHEN d.status = 'won' THEN d.amount END) AS avg_deal_size,"
            " avg(CASE WHEN d.status = 'won' AND d.closed_at IS NOT NULL"
            "   THEN julianday(d.closed_at) - julianday(d.created_at) END) AS avg_cycle_days,"
            " total(CASE WHEN d.status = 'open' THEN d.amount END) AS open_amount,"
            " total(CASE WHEN d.status = 'open' THEN d.amount * d.probability / 100.0 END) AS weighted"
            f" FROM deals d WHERE {where}",
            params,
        )[0]
        won, lost = int(row["won"] or 0), int(row["lost"] or 0)
        return {
            "won": won,
            "lost": lost,
            "open": int(row["open"] or 0),
            "win_rate": won / (won + lost) if won + lost else None,
            "avg_deal_size": row["avg_deal_size"],
            "avg_cycle_days": row["avg_cycle_days"],
            "open_amount": row["open_amount"],
            "weighted": row["weighted"],
        }

    def kpis_frame(self) -> pandas.DataFrame:
        """``pipeline.kpis``: the forecast's key figures as one row."""
        import pandas as pd

        return pd.DataFrame([self.kpis()])

    def slipped(self) -> pandas.DataFrame:
        """``pipeline.slipped``: each time an open deal's expected close was pushed later (from the audit trail)."""
        where, params = self._where()
        params["limit"] = self.slipped_limit
        return self._frame(
            "SELECT d.id AS deal_id, d.title, d.owner, d.stage,"
            " json_extract(a.changes, '$.before.expected_close') AS was,"
            " json_extract(a.changes, '$.after.expected_close') AS now,"
            " CAST(julianday(json_extract(a.changes, '$.after.expected_close'))"
            "  - julianday(json_extract(a.changes, '$.before.expected_close')) AS INTEGER) AS days_slipped,"
            " a.at AS changed_at, a.user AS changed_by"
            " FROM audit_log a JOIN deals d ON d.id = CAST(a.row_id AS INTEGER)"
            " WHERE a.table_name = 'deals' AND a.action = 'update'"
            " AND json_extract(a.changes, '$.after.expected_close') > json_extract(a.changes, '$.before.expected_close')"
            f" AND {where} ORDER BY a.at DESC, a.id DESC LIMIT :limit",
            params,
        )

    def _frame(self, sql: str, params: dict[str, Any]) -> pandas.DataFrame:
        import pandas as pd

        cursor = self.store.conn.execute(sql, params)
        names = [d[0] for d in cursor.description]
        return pd.DataFrame(cursor.fetchall(), columns=names)


def _every_month(frame: pandas.DataFrame) -> pandas.DataFrame:
    """``frame`` (one row per "YYYY-MM" month, "no date" last) with the months between its rows added as zeros."""
    import pandas as pd

    dated = frame[frame["month"] != "no date"]
    if len(dated) < 2:
        return frame
    try:
        months = pd.period_range(dated["month"].iloc[0], dated["month"].iloc[-1], freq="M").strftime("%Y-%m")
    except ValueError:  # a month that is no date (bad text in expected_close): leave the rows as they are
        return frame
    filled = dated.set_index("month").reindex(months, fill_value=0).rename_axis("month").reset_index()
    filled["deals"] = filled["deals"].astype(int)
    return pd.concat([filled, frame[frame["month"] == "no date"]], ignore_index=True)
