"""The "duplicates" page: possible duplicates with their score, a field-by-field merge, the merge log."""

from __future__ import annotations

from typing import Any

import panel as pn
import param

from crm_workspace import CrmError, Workspace
from crm_workspace.web.display import when_html

from ..drafts import MergeReview
from ..state import DuplicatesModel
from .common import E, name_of, notify


def _side(row: dict, field: str) -> str:
    value = row.get(field)
    return f"#{row['id']}: {value if value is not None else '—'}"


#: Pairs shown at first (the likeliest); the rest behind a button.
PAIRS_SHOWN = 25


class MergeCard(pn.viewable.Viewer):
    """One merge under review: a two-way choice per differing field, bound to the review's choices."""

    review = param.ClassSelector(class_=MergeReview)
    model = param.ClassSelector(class_=DuplicatesModel)

    def __panel__(self) -> pn.viewable.Viewable:
        winner, loser = self.review.winner, self.review.loser
        rows: list[Any] = [
            pn.pane.HTML(
                f"<b>Keep #{winner['id']} {E(name_of(winner))}, merge #{loser['id']} {E(name_of(loser))} into it</b>"
            )
        ]
        for choice in self.review.choices:
            picker = pn.widgets.RadioButtonGroup.from_param(
                choice.param.take,
                label=choice.field,
                options={_side(winner, choice.field): "winner", _side(loser, choice.field): "loser"},
                color="light",
            )
            rows.append(pn.Row(pn.pane.HTML(E(choice.field), width=140), picker))
        go = pn.widgets.Button(label="Merge", color="danger")
        cancel = pn.widgets.Button(label="Cancel")
        go.on_click(lambda _e: self.model.merge())
        cancel.on_click(lambda _e: self.model.cancel())
        return pn.Card(*rows, pn.Row(go, cancel), title="Merge", collapsible=False)


class DuplicatesPage(pn.viewable.Viewer):
    """Possible duplicates with their score; merge field by field; undo from the merge log."""

    workspace = param.ClassSelector(class_=Workspace)
    model = param.ClassSelector(class_=DuplicatesModel, doc="The page's state; made from the workspace.")

    def __init__(self, **params: Any):
        super().__init__(**params)
        if self.model is None:
            self.model = DuplicatesModel(workspace=self.workspace)
        self.status = pn.pane.Alert("", alert_type="success", visible=False, sizing_mode="stretch_width")
        self.merge_area = pn.Column()
        self.merge_card: MergeCard | None = None
        self.model.param.watch(self._show_status, ["message", "failed"])
        self.model.param.watch(self._show_review, "review")

    def _show_status(self, *_events: Any) -> None:
        model = self.model
        self.status.param.update(
            object=E(model.message), alert_type="danger" if model.failed else "success", visible=bool(model.message)
        )

    def _show_review(self, *_events: Any) -> None:
        review = self.model.review
        self.merge_card = None if review is None else MergeCard(review=review, model=self.model)
        self.merge_area.objects = [] if self.merge_card is None else [self.merge_card]

    @param.depends("workspace.revision")
    def _pairs(self) -> pn.viewable.Viewable:
        pairs = self.model.pairs()
        if not pairs:
            return pn.pane.Markdown("No possible duplicates found.")
        # the likeliest first, a screenful at a time: each pair is three components to build and draw
        shown = pn.Column(*[self._pair_row(pair) for pair in pairs[:PAIRS_SHOWN]])
        rest = pairs[PAIRS_SHOWN:]
        if not rest:
            return shown
        more = pn.widgets.Button(label=f"Show {len(rest)} more", width=160)

        def show_more(_event: Any) -> None:
            shown.extend([self._pair_row(pair) for pair in rest])
            more.visible = False

        more.on_click(show_more)
        return pn.Column(shown, more)

    def _pair_row(self, pair: dict) -> pn.Row:
        button = pn.widgets.Button(label="Review & merge", width=140)
        button.on_click(lambda _e, p=pair: self._review(p))
        return pn.Row(
            pn.pane.HTML(
                f"<b>{E(pair['a_name'])}</b> (#{pair['a']}) ↔ <b>{E(pair['b_name'])}</b> (#{pair['b']})"
                f" · {E(pair['organization'] or '')} · {E(pair['reason'])} · score <b>{pair['score']:.0f}</b>",
                width=640,
            ),
            button,
        )

    def _review(self, pair: dict) -> None:
        try:
            self.model.start_review(pair)
        except CrmError as error:
            notify(str(error))

    @param.depends("workspace.revision")
    def _log(self) -> pn.viewable.Viewable:
        entries = self.model.log()
        if not entries:
            return pn.pane.Markdown("No merges yet.")
        rows = []
        for entry in entries:
            text = (
                f"#{entry['id']} {when_html(entry['at'])} by {E(entry['user'] or '')}: #{entry['loser_id']}"
                f" merged into #{entry['winner_id']} {E(entry['winner'] or '')} — {E(entry['status'])}"
            )
            row: list[Any] = [pn.pane.HTML(text, width=620)]
            if entry["status"] == "merged":
                undo = pn.widgets.Button(label="Undo merge", width=120)
                undo.on_click(lambda _e, i=entry["id"]: self._undo(i))
                row.append(undo)
            rows.append(pn.Row(*row))
        return pn.Column(*rows)

    def _undo(self, log_id: int) -> None:
        try:
            self.model.undo(log_id)
        except CrmError as error:
            notify(str(error))

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            "## Possible duplicates",
            self.status,
            self.merge_area,
            self._pairs,
            "### Merge log",
            self._log,
            sizing_mode="stretch_width",
        )
