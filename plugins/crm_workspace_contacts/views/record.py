"""Record pages: a contact's or an organization's details, one timeline, and other modules' sections."""

from __future__ import annotations

from typing import Any

import pandas as pd
import panel as pn
import param

from crm_workspace import CrmError, Workspace
from crm_workspace.web.deferred import after_ready
from crm_workspace.web.display import day, label, money, times_html, when_html
from crm_workspace.web.icons import svg
from crm_workspace.web.list_table import ListTable

from ..labels import FIELD_LABELS, field_label, value_text
from ..state import RecordModel
from .activities import ActivityLogger
from .common import CSS, READ_ONLY_TIP, E, fields_table, name_of, read_only
from .forms import RecordForm


def timeline_html(items: list[dict]) -> str:
    """Touchpoints as HTML, newest first as given, every piece of user text escaped."""
    if not items:
        return "<p>No touchpoints yet.</p>"
    out = []
    for item in items:
        tags = "".join(
            f"<span class='crm-tag {E(t)}'>{E(label(t))}</span>" for t in (item["function"], item["channel"]) if t
        )
        body = _body_html(item)
        out.append(
            f"<div class='crm-tl crm-tl-{E(item['source'])}'><div class='meta'>{when_html(item['at'])}"
            f" · {E(label(item['kind']))} · {E(item['by'])} {tags}</div>"
            f"<div>{svg(item['icon'], 15)} <b>{E(item['subject'])}</b></div>{body}</div>"
        )
    return "".join(out)


def _body_html(item: dict) -> str:
    """An item's text: an edit as one "Label: old → new" line a field, times humanised (exact on hover)."""
    if item.get("changes"):
        return "".join(
            f"<div class='crm-change'>{E(name)}: {times_html(old)} → {times_html(new)}</div>"
            for name, old, new in item["changes"]
        )
    return f"<div>{times_html(item['body'])}</div>" if item["body"] else ""


def deals_html(deals: list[dict]) -> str:
    rows = "".join(
        f"<tr><td>{E(d['title'] or '')}</td><td>{E(label(d['stage']))}</td>"
        f"<td style='text-align:right'>{E(money(d['amount'] or 0, d['currency']))}</td>"
        f"<td>{E(label(d['status']))}</td><td>{E(day(d['expected_close']))}</td></tr>"
        for d in deals
    )
    return (
        "<table class='crm-fields'><tr><td>Deal</td><td>Stage</td><td>Amount</td><td>Status</td><td>Expected close</td></tr>"
        f"{rows}</table>"
    )


def related_html(rows: list[dict]) -> str:
    text = "".join(
        f"<li>{E(label(r['kind']))} {E(r['direction'])} <b>{E(r['other'] or '')}</b> ({E(r['other_type'])})</li>"
        for r in rows[:100]
    )
    return f"<ul>{text}</ul>"


def record_or_not_found(
    workspace: Workspace, record: type[_Record], record_id: Any, back_page: str, back_label: str
) -> pn.viewable.Viewable:
    """The record page of ``record_id``, or a plain "not found" (a stale link, a deleted record) with the way back."""
    try:
        return record(workspace=workspace, record_id=int(record_id))
    except (CrmError, ValueError, TypeError):
        what = "Contact" if record.table == "contacts" else "Organization"
        back = pn.widgets.Button(label=back_label, color="light", width=160)
        back.on_click(lambda _e: workspace.open_page(back_page))
        text = (
            f"## {what} not found\n\nThere is no {what.lower()} with the id **{E(str(record_id))}**: "
            "it may have been deleted or merged into another, or the link is mistyped."
        )
        return pn.Column(pn.pane.Markdown(text, css_classes=["crm-not-found"]), back, sizing_mode="stretch_width")


class _Record(pn.viewable.Viewer):
    """What both record pages share: edit, log an activity, timeline, short lists, sections."""

    workspace = param.ClassSelector(class_=Workspace)
    record_id = param.Integer()
    model = param.ClassSelector(class_=RecordModel, doc="The page's data; made from workspace and record_id.")
    table = "contacts"

    def __init__(self, **params: Any):
        super().__init__(**params)
        if self.model is None:
            self.model = RecordModel(workspace=self.workspace, table=self.table, record_id=self.record_id)
        self.row = self.model.row()  # NotFound shows at the page
        self.edit_area = pn.Column()
        self.edit = pn.widgets.Button(label="Edit", icon=svg("edit"), width=90)
        self.edit.on_click(lambda _e: self._show_edit())
        self.logger: Any = ActivityLogger(workspace=self.workspace, table=self.table, record_id=self.record_id)
        if read_only(self.workspace):  # a viewer sees the record, not controls that fail on save
            self.edit.param.update(disabled=True, description=READ_ONLY_TIP)
            self.logger = pn.pane.Markdown("*Read-only: you can view this timeline, not log to it.*")
        self.more = pn.widgets.Button(label="Show more", color="light", width=120)
        self.more.on_click(lambda _e: self.model.show_more())

    def _show_edit(self) -> None:
        def done(_row: dict | None) -> None:
            self.edit_area.objects = []

        self.edit_area.objects = [
            RecordForm(workspace=self.workspace, table=self.table, record_id=self.record_id, on_done=done)
        ]

    @param.depends("workspace.revision", "model.timeline_limit")
    def _timeline(self) -> pn.viewable.Viewable:
        items = self.model.timeline()
        return pn.Column(
            pn.pane.HTML(timeline_html(items), stylesheets=[CSS], sizing_mode="stretch_width"),
            self.more if len(items) >= self.model.timeline_limit else None,
            sizing_mode="stretch_width",
        )

    @param.depends("workspace.revision")
    def _deals_view(self) -> pn.viewable.Viewable:
        """This module's short lists, unless another plugin's section already shows them in full."""
        show_deals, show_related = self.model.short_lists()
        parts = []
        if show_deals:
            deals = self.model.deals()
            parts.append(pn.pane.HTML(deals_html(deals), stylesheets=[CSS]) if deals else pn.pane.Markdown("No deals."))
        if show_related:
            related = self.model.related()
            parts.append(pn.pane.HTML(related_html(related)) if related else pn.pane.Markdown("No relationships."))
        # nothing when other modules' sections (below) show the deals and relationships in full
        return pn.Column("### Deals & relationships", *parts) if parts else pn.Column()

    def _sections(self) -> list[pn.viewable.Viewable]:
        out = []
        for section in self.model.sections():
            try:
                out.append(pn.Card(section.view(), title=section.title, collapsed=False, sizing_mode="stretch_width"))
            except Exception as error:
                out.append(pn.pane.Alert(E(f"Section {section.title} ({section.plugin}) failed: {error}")))
        return out

    def _back(self, label: str = "◀ All contacts", page: str = "contacts") -> pn.widgets.Button:
        back = pn.widgets.Button(label=label, color="light", width=140)
        back.on_click(lambda _e: self.workspace.open_page(page))
        return back

    def _layout(self, back: pn.widgets.Button, *left: Any) -> pn.viewable.Viewable:
        return pn.Column(
            pn.Row(back, self.edit),
            self.edit_area,
            pn.Row(
                pn.Column(*left, width=480),
                pn.Column("### Timeline", self.logger, self._timeline, sizing_mode="stretch_width"),
                sizing_mode="stretch_width",
            ),
            # other modules' sections, below the first screen: built once the page is shown
            after_ready(lambda: pn.Column(*self._sections(), sizing_mode="stretch_width"), sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )


class ContactRecord(_Record):
    """A contact's page: details, lifecycle, deals, relationships, tasks and one timeline."""

    table = "contacts"

    @param.depends("workspace.revision")
    def _details(self) -> pn.viewable.Viewable:
        try:
            self.row = row = self.model.row()
        except CrmError as error:
            return pn.pane.Alert(E(str(error)), alert_type="warning")
        shown = FIELD_LABELS["contacts"]
        pairs = [(shown[c], row.get(c)) for c in ("title", "email", "phone", "owner")]
        pairs += [(shown[c], label(row.get(c))) for c in ("stakeholder_type", "lifecycle_stage")]
        pairs += [("Tags", ", ".join(self.model.tags())), (shown["notes"], row.get("notes"))]
        pairs += [(field_label("contacts", c), value_text(c, row.get(c))) for c in self.model.consent_fields()]
        items: list[Any] = [
            pn.pane.HTML(
                f"<h2 class='crm-record-title'>{E(name_of(row))}</h2>", stylesheets=[CSS], sizing_mode="stretch_width"
            ),
            pn.pane.HTML(fields_table(pairs), stylesheets=[CSS], sizing_mode="stretch_width"),
        ]
        org = self.model.organization_of(row)
        if org:
            link = pn.widgets.Button(label=org["name"], icon=svg("building"), color="light")
            link.on_click(lambda _e, i=org["id"]: self.workspace.open_page("organizations", id=i))
            items.insert(1, link)
        return pn.Column(*items)

    @param.depends("workspace.revision")
    def _lifecycle(self) -> pn.viewable.Viewable:
        events = self.model.lifecycle()
        if not events:
            return pn.pane.Markdown("No lifecycle history.")
        text = "".join(
            f"<li>{when_html(e['at'])}: {E(label(e['from_stage']) or '—')} → <b>{E(label(e['to_stage']))}</b>"
            f" ({E(e['by'] or '')})</li>"
            for e in events
        )
        return pn.pane.HTML(f"<ul>{text}</ul>")

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout(self._back(), self._details, "### Lifecycle", self._lifecycle, self._deals_view)


class OrganizationRecord(_Record):
    """An organization's page: details, its people, deals and timeline."""

    table = "organizations"

    @param.depends("workspace.revision")
    def _details(self) -> pn.viewable.Viewable:
        try:
            row = self.model.row()
        except CrmError as error:
            return pn.pane.Alert(E(str(error)), alert_type="warning")
        pairs = [
            (field_label("organizations", k), row.get(k))
            for k in ("domain", "industry", "city", "country", "phone", "website", "owner")
        ]
        return pn.Column(
            pn.pane.HTML(
                f"<h2 class='crm-record-title'>{E(row['name'])}</h2>", stylesheets=[CSS], sizing_mode="stretch_width"
            ),
            pn.pane.HTML(fields_table(pairs), stylesheets=[CSS], sizing_mode="stretch_width"),
        )

    @param.depends("workspace.revision")
    def _people(self) -> pn.viewable.Viewable:
        """The organization's people (the first 100 by name) as one list: a click opens one."""
        people = self.model.people()
        frame = pd.DataFrame(
            {
                "name": [name_of(p) for p in people],
                **{key: [p[key] for p in people] for key in ("title", "email", "id")},
            }
        )
        table = ListTable(
            frame, hidden_columns=("id",), page_size=10, sizing_mode="stretch_width", empty="No people yet"
        )
        table.on_click(lambda event: self.workspace.open_page("contacts", id=int(frame["id"].iat[event.row])))
        all_people = pn.widgets.Button(label="All people in the contact list ▶", color="light")
        all_people.on_click(lambda _e: self.workspace.open_page("contacts", organization_id=self.record_id))
        return pn.Column(table, all_people, sizing_mode="stretch_width")

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout(
            self._back("◀ Organizations", "organizations"),
            self._details,
            "### People",
            self._people,
            self._deals_view,
        )
