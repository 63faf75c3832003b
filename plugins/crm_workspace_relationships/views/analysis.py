"""The analysis tab: key connectors, isolated stakeholders, single-threaded deals, suggested ties."""

from __future__ import annotations

from typing import Any

import panel as pn
import param

from crm_workspace import CrmError
from crm_workspace.web.display import label, money
from crm_workspace.web.list_table import ListTable, percent

from ..model import AnalysisModel
from .common import notify_error, notify_success, text

#: headers a column name does not say well enough, and stored words shown in words
TITLES = {
    "id": "Id",
    "betweenness": "Bridges (share of paths)",
    "articulation point": "Cuts the network",
    "threads": "Threads",
}
WORDS = ("stakeholder_type", "stage")


def _table(frame) -> ListTable:
    """A read-only list as people read it: labelled headers, stored words in words, money, shares as percentages."""
    shown = frame.assign(**{c: [label(v) for v in frame[c]] for c in WORDS if c in frame.columns})
    if "amount" in frame.columns:  # in the deal's own currency ("$12,000"), not the default's
        currencies = frame["currency"] if "currency" in frame.columns else [None] * len(frame)
        shown = shown.assign(amount=[money(v, c) for v, c in zip(frame["amount"], currencies, strict=True)])
        shown = shown.drop(columns=["currency"], errors="ignore")
    formatters = {"betweenness": percent()} if "betweenness" in frame.columns else {}
    titles = {c: TITLES.get(c) or label(c) for c in shown.columns}
    return ListTable(shown, page_size=10, titles=titles, formatters=formatters, sizing_mode="stretch_width")


class AnalysisView(pn.viewable.Viewer):
    """Four lists computed from the cached graph and SQL; each refreshes with the data."""

    model = param.ClassSelector(class_=AnalysisModel)

    @param.depends("model.workspace.revision")
    def _connectors(self) -> pn.viewable.Viewable:
        return pn.Column(
            "### Key connectors",
            "Betweenness centrality (sampled on large graphs); an articulation point cuts the network if removed.",
            _table(self.model.connectors(top=25)),
        )

    @param.depends("model.workspace.revision")
    def _isolated(self) -> pn.viewable.Viewable:
        return pn.Column(
            f"### Isolated stakeholders ({self.model.isolated_count():,})",
            "Contacts with no relationship at all (first 100).",
            _table(self.model.isolated(limit=100)),
        )

    @param.depends("model.workspace.revision")
    def _single(self) -> pn.viewable.Viewable:
        return pn.Column(
            "### Single-threaded deals",
            "Open deals whose organization is reached through one contact (threads = 1) or none (0).",
            _table(self.model.single_threaded(limit=100)),
        )

    @param.depends("model.workspace.revision")
    def _inferred(self) -> pn.viewable.Viewable:
        rows = self.model.suggestions(limit=15)
        items: list[Any] = [
            "### Suggested ties",
            "People with activities on the same deal, or a meeting/email with the same organization on the same day.",
        ]
        for r in rows:
            button = pn.widgets.Button(label="Accept", color="success", width=80)
            button.on_click(lambda _e, r=r: self._accept(r))
            items.append(
                pn.Row(
                    pn.pane.HTML(
                        f"{text(r['source_name'])} ↔ {text(r['target_name'])}"
                        f" <small>({r['shared']} shared: {text(r['occasions'])})</small>",
                        sizing_mode="stretch_width",
                    ),
                    button,
                    sizing_mode="stretch_width",
                )
            )
        if not rows:
            items.append("No suggestions.")
        return pn.Column(*items, sizing_mode="stretch_width")

    def _accept(self, row: dict[str, Any]) -> None:
        try:
            self.model.accept(row)
        except CrmError as error:
            notify_error(error)
        else:
            notify_success(f"{row['source_name']} works with {row['target_name']}: relationship added")

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.Row(self._connectors, self._isolated, sizing_mode="stretch_width"),
            pn.Row(self._single, self._inferred, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )
