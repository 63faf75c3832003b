"""The lifecycle page's state (period, owner, contact) over the store; no widgets here."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import param

from crm_workspace import Workspace

from . import analytics, metrics, rules


class LifecycleModel(param.Parameterized):
    """Filters shared by every chart, and each chart's numbers as a DataFrame."""

    workspace = param.ClassSelector(class_=Workspace)
    start = param.CalendarDate(default=None, allow_None=True, doc="First day of the period (inclusive).")
    end = param.CalendarDate(default=None, allow_None=True, doc="Last day of the period (inclusive).")
    owner = param.String(default="", doc="Only contacts of this owner ('' = everyone).")
    contact_id = param.Integer(default=None, allow_None=True, doc="The contact whose journey is shown.")

    @classmethod
    def last_year(cls, workspace: Workspace, **params) -> LifecycleModel:
        today = date.today()
        return cls(workspace=workspace, start=today - timedelta(days=365), end=today, **params)

    @property
    def filters(self) -> dict:
        return {
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "owner": self.owner or None,
        }

    def owners(self) -> list[str]:
        rows = self.workspace.query("SELECT DISTINCT owner FROM contacts WHERE owner IS NOT NULL ORDER BY owner")
        return [r["owner"] for r in rows]

    def latest_contact(self) -> int | None:
        """The contact whose stage changed last: the journey a page opens with."""
        rows = self.workspace.query("SELECT contact_id FROM lifecycle_events ORDER BY at DESC, id DESC LIMIT 1")
        return rows[0]["contact_id"] if rows else None

    def funnel(self) -> pd.DataFrame:
        return analytics.funnel(self.workspace, **self.filters)

    def time_in_stage(self) -> pd.DataFrame:
        return analytics.time_in_stage(self.workspace, **self.filters)

    def stuck(self, limit: int = 10) -> pd.DataFrame:
        return analytics.stuck(self.workspace, owner=self.filters["owner"], limit=limit)

    def cohorts(self) -> pd.DataFrame:
        return analytics.cohorts(self.workspace, **self.filters)

    def flow(self) -> pd.DataFrame:
        return analytics.flow(self.workspace, **self.filters)

    def journey(self) -> pd.DataFrame:
        return analytics.journey(self.workspace, self.contact_id)

    def adoption(self) -> pd.DataFrame:
        return metrics.adoption(self.workspace, **self.filters)

    def data_quality(self) -> pd.DataFrame:
        return metrics.data_quality(self.workspace, owner=self.filters["owner"])

    def churn_risk(self) -> pd.DataFrame:
        return metrics.churn_risk(self.workspace)

    def flagged_events(self) -> int:
        return self.workspace.store.scalar("SELECT count(*) FROM lifecycle_events WHERE flagged IS NOT NULL") or 0

    # settings
    def stages(self) -> list[str]:
        return self.workspace.lifecycle_stages()

    def set_stages(self, stages: list[str]) -> list[str]:
        return rules.set_stages(self.workspace, stages)

    def rules(self) -> dict:
        return rules.rules(self.workspace)

    def set_rules(self, new: dict) -> None:
        rules.set_rules(self.workspace, new)
