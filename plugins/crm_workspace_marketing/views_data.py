"""The marketing data views: what the page shows, as DataFrames for a notebook (``ws.df("marketing.…")``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from crm_workspace import Workspace

SEGMENT_COLUMNS = ["id", "name", "kind", "members", "status", "problem", "conditions", "built_at", "owner"]


def data_views(workspace: Workspace) -> dict:
    from . import analytics, campaigns, segments, sending

    def segment(name: str | int, limit: int | None = None) -> pd.DataFrame:
        """A segment's members (id, name, email, stage, type, owner, organization, consent, added_at);
        ``attrs["sql"]`` is the query, ``attrs["definition_sql"]`` the filter deciding membership."""
        return segments.members_frame(workspace, name, limit=limit)

    def segment_list() -> pd.DataFrame:
        """Every segment: kind, member count, status (broken: its filter names a missing field), conditions."""
        import pandas as pd

        return pd.DataFrame(segments.list_segments(workspace), columns=SEGMENT_COLUMNS)

    def campaign_list() -> pd.DataFrame:
        """Every campaign: sent, delivered, bounced, unique opens, clicks, unsubscribes, rates (people only)."""
        return analytics.campaign_stats(workspace)

    def progress(campaign: str | int) -> pd.DataFrame:
        """A campaign's sending: messages by ledger state, backlog, rate of the last 10 minutes, last run."""
        return analytics.sending_progress(workspace, campaigns.get_campaign(workspace, campaign)["id"])

    def failed(campaign: str | int, limit: int = 100) -> pd.DataFrame:
        """A campaign's failed, unknown and retrying messages with the SMTP server's reason."""
        return analytics.failures(workspace, campaigns.get_campaign(workspace, campaign)["id"], limit)

    def ab(campaign: str | int) -> pd.DataFrame:
        """An A/B test's variants: recipients, unique human opens and clicks, rates, influenced revenue."""
        import pandas as pd

        rows = sending.results(workspace, campaigns.get_campaign(workspace, campaign)["id"])
        columns = ["name", "variant", "recipients", "opens", "clicks", "open_rate", "click_rate", "revenue"]
        return pd.DataFrame(rows, columns=columns)

    def attribution(days: int = 90) -> pd.DataFrame:
        """Deals and revenue per campaign, first- and last-touch (people's opens and clicks before the deal)."""
        return analytics.attribution(workspace, days)

    def form_list() -> pd.DataFrame:
        """Every sign-up form: submissions and confirmed sign-ups."""
        return analytics.forms(workspace)

    def daily(since: str = "1970-01-01") -> pd.DataFrame:
        """People's opens, clicks, unsubscribes and sign-ups per day."""
        return analytics.daily(workspace, since)

    return {
        "marketing.segment": segment,
        "marketing.segments": segment_list,
        "marketing.campaigns": campaign_list,
        "marketing.sending": progress,
        "marketing.failures": failed,
        "marketing.ab": ab,
        "marketing.attribution": attribution,
        "marketing.forms": form_list,
        "marketing.daily": daily,
    }
