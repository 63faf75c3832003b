"""Contacts & organizations pages: lists, record pages, forms, tasks, duplicates.

Every piece of user text that becomes HTML goes through ``html.escape``; lists
are paged in SQL; views depend on ``workspace.revision`` to refresh.
"""

from __future__ import annotations

import html
import io
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import panel as pn
import param

from crm_workspace import ConflictError, CrmError, ValidationError, Workspace
from crm_workspace.data.schema import ACTIVITY_KINDS, CHANNELS, STAKEHOLDER_TYPES

from . import merge, model

E = html.escape
ANY = "(any)"
CSS = """
.crm-tl {border-left: 3px solid #c9d3df; margin: 0 0 8px 6px; padding: 2px 10px;}
.crm-tl .meta {color: #5f6b7a; font-size: 12px;}
.crm-tag {display: inline-block; border-radius: 9px; padding: 0 7px; margin-right: 4px; font-size: 11px;
          background: #eef2f7; color: #334;}
.crm-tag.sales {background: #e3f0ff;} .crm-tag.marketing {background: #fdeee0;} .crm-tag.service {background: #e5f6e9;}
.crm-fields td {padding: 2px 12px 2px 0; vertical-align: top;} .crm-fields td:first-child {color: #5f6b7a;}
"""
CONTACT_FORM_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "title",
    "organization_id",
    "stakeholder_type",
    "lifecycle_stage",
    "owner",
    "notes",
)
ORG_FORM_FIELDS = ("name", "domain", "industry", "city", "country", "phone", "website", "owner")


def _name(row: dict) -> str:
    return f"{row.get('first_name') or ''} {row.get('last_name') or ''}".strip() or f"#{row.get('id')}"


def _notify(message: str, kind: str = "error") -> None:
    if pn.state.notifications is not None:
        getattr(pn.state.notifications, kind)(message, duration=6000)


def _users(ws: Workspace) -> list[str]:
    return [r["username"] for r in ws.query("SELECT username FROM users WHERE active = 1 ORDER BY username")]


def _fields_table(pairs: list[tuple[str, Any]]) -> str:
    rows = "".join(f"<tr><td>{E(k)}</td><td>{E('' if v is None else str(v))}</td></tr>" for k, v in pairs)
    return f"<table class='crm-fields'>{rows}</table>"


# ------------------------------------------------------------------ forms
class RecordForm(pn.viewable.Viewer):
    """Create or edit one contact/organization with the version it was loaded at.

    A stale save shows both versions (yours and theirs) instead of overwriting.
    """

    workspace = param.ClassSelector(class_=Workspace)
    table = param.String(default="contacts")
    record_id = param.Integer(default=None, allow_None=True)

    def __init__(self, on_done=None, **params):
        super().__init__(**params)
        self._on_done = on_done
        ws = self.workspace
        fields = CONTACT_FORM_FIELDS if self.table == "contacts" else ORG_FORM_FIELDS
        self.loaded = ws.store.get(self.table, self.record_id) if self.record_id else {}
        self.version = self.loaded.get("version")
        self.widgets: dict[str, pn.widgets.Widget] = {}
        self.errors: dict[str, pn.pane.Alert] = {}
        for name in fields:
            value = self.loaded.get(name)
            label = name.replace("_", " ").capitalize()
            if name == "stakeholder_type":
                widget = pn.widgets.Select(label=label, options=list(STAKEHOLDER_TYPES), value=value or "prospect")
            elif name == "lifecycle_stage":
                widget = pn.widgets.Select(label=label, options=["", *ws.lifecycle_stages()], value=value or "")
            elif name == "owner":
                users = _users(ws)
                widget = pn.widgets.Select(label=label, options=["", *users], value=value or ws.user)
                if widget.value not in widget.options:
                    widget.options = [*widget.options, widget.value]
            elif name == "organization_id":
                widget = pn.widgets.TextInput(label="Organization id", value="" if value is None else str(value))
            elif name == "notes":
                widget = pn.widgets.TextAreaInput(label=label, value=value or "", height=80)
            else:
                widget = pn.widgets.TextInput(label=label, value=value or "")
            self.widgets[name] = widget
            self.errors[name] = pn.pane.Alert("", alert_type="danger", visible=False, margin=(0, 10))
        self.message = pn.Column()
        self.save = pn.widgets.Button(label="Save", color="primary")
        self.cancel = pn.widgets.Button(label="Cancel")
        self.save.on_click(lambda _e: self.submit())
        self.cancel.on_click(lambda _e: self._done(None))

    def values(self) -> dict[str, Any]:
        out = {}
        for name, widget in self.widgets.items():
            value = widget.value
            if isinstance(value, str):
                value = value if value.strip() else None
            out[name] = value
        return out

    def submit(self, *, force_version: int | None = None) -> dict | None:
        for alert in self.errors.values():
            alert.visible = False
        self.message.objects = []
        values = self.values()
        store = self.workspace.store
        try:
            if self.record_id:
                changes = {k: v for k, v in values.items() if self.loaded.get(k) != v}
                row = store.update(self.table, self.record_id, changes, version=force_version or self.version)
            else:
                row = store.insert(self.table, values)
        except ValidationError as error:
            for name, text in error.errors.items():
                if name in self.errors:
                    self.errors[name].object = f"{name.replace('_', ' ')}: {E(text)}"
                    self.errors[name].visible = True
                else:
                    self.message.append(pn.pane.Alert(E(f"{name}: {text}"), alert_type="danger"))
            return None
        except ConflictError as error:
            self.message.objects = [self._conflict(error)]
            return None
        except CrmError as error:
            self.message.objects = [pn.pane.Alert(E(str(error)), alert_type="danger")]
            return None
        self._done(row)
        return row

    def _conflict(self, error: ConflictError) -> pn.viewable.Viewable:
        names = [n for n in self.widgets if n in error.mine or error.theirs.get(n) != self.loaded.get(n)]
        rows = "".join(
            f"<tr><td>{E(n)}</td><td>{E(str(self.loaded.get(n) or ''))}</td>"
            f"<td><b>{E(str(error.mine.get(n, self.loaded.get(n)) or ''))}</b></td>"
            f"<td><b>{E(str(error.theirs.get(n) or ''))}</b></td></tr>"
            for n in names
        )
        table = pn.pane.HTML(
            "<div class='crm-conflict'><b>Conflict:</b> " + E(str(error)) + "<table class='crm-fields'>"
            "<tr><td>field</td><td>when you opened it</td><td>yours</td><td>theirs (saved)</td></tr>"
            f"{rows}</table></div>",
            stylesheets=[CSS],
        )
        keep_mine = pn.widgets.Button(label="Overwrite with mine", color="warning")
        take_theirs = pn.widgets.Button(label="Discard mine, reload theirs")
        theirs_version = error.theirs.get("version")

        def overwrite(_e):
            self.submit(force_version=theirs_version)

        def reload(_e):
            self._done(None)

        keep_mine.on_click(overwrite)
        take_theirs.on_click(reload)
        return pn.Column(
            pn.pane.Alert("This record was changed by someone else since you opened it.", alert_type="warning"),
            table,
            pn.Row(keep_mine, take_theirs),
        )

    def _done(self, row: dict | None) -> None:
        if self._on_done:
            self._on_done(row)

    def __panel__(self):
        items = []
        for name, widget in self.widgets.items():
            items.extend([widget, self.errors[name]])
        return pn.Column(*items, self.message, pn.Row(self.save, self.cancel), width=460)


# ------------------------------------------------------------------ lists
class ContactListView(pn.viewable.Viewer):
    """Contacts list: search as you type, filters, sort, SQL paging, export."""

    workspace = param.ClassSelector(class_=Workspace)

    def __init__(self, **params):
        super().__init__(**params)
        ws = self.workspace
        self.model = model.ContactListModel(workspace=ws)
        self.search = pn.widgets.TextInput(label="Search", placeholder="name, email, phone, organization…", width=320)
        self.search.param.watch(self._on_search, "value_input")
        users = _users(ws)
        self.type_w = pn.widgets.Select(label="Stakeholder type", options=[ANY, *STAKEHOLDER_TYPES], width=150)
        self.stage_w = pn.widgets.Select(label="Lifecycle stage", options=[ANY, *ws.lifecycle_stages()], width=160)
        self.owner_w = pn.widgets.Select(label="Owner", options=[ANY, *users], width=110)
        self.tag_w = pn.widgets.Select(label="Tag", options=[ANY, *model.all_tags(ws)], width=130)
        self.after_w = pn.widgets.DatePicker(label="Touched after", width=130)
        self.before_w = pn.widgets.DatePicker(label="Not touched since", width=130)
        self.sort_w = pn.widgets.Select(
            label="Sort by", options={"relevance / last name": "", **{k: k for k in model.CONTACT_SORTS}}, width=150
        )
        self.desc_w = pn.widgets.Checkbox(label="descending")
        for widget in (self.type_w, self.stage_w, self.owner_w, self.tag_w, self.after_w, self.before_w):
            widget.param.watch(self._on_filter, "value")
        self.sort_w.param.watch(self._on_filter, "value")
        self.desc_w.param.watch(self._on_filter, "value")
        self.prev = pn.widgets.Button(label="◀ Previous", width=110)
        self.next = pn.widgets.Button(label="Next ▶", width=110)
        self.prev.on_click(lambda _e: self._go(-1))
        self.next.on_click(lambda _e: self._go(1))
        self.new = pn.widgets.Button(label="➕ New contact", color="primary", width=140)
        self.new.on_click(lambda _e: self._show_form())
        self.export = pn.widgets.FileDownload(
            callback=self._export, filename="contacts.xlsx", label="⬇ Export to Excel", color="light", width=160
        )
        self.form_area = pn.Column()
        self.org_chip = pn.Column()
        self.table = pn.widgets.Tabulator(
            pd.DataFrame(columns=model.CONTACT_COLUMNS),
            show_index=False,
            disabled=True,
            pagination=None,
            sizing_mode="stretch_width",
            height=560,
            selectable=False,
        )
        self.table.on_click(self._open)
        self.status = pn.pane.Markdown("")
        self.workspace.param.watch(lambda _e: self.refresh(), "revision")
        self.refresh()

    def set_organization(self, org_id: int | None) -> None:
        self.model.param.update(organization_id=org_id, page=0)
        self.refresh()

    def _on_search(self, event) -> None:
        self.model.param.update(search=event.new or "", page=0)
        self.refresh()

    def _on_filter(self, _event) -> None:
        def val(widget):
            return "" if widget.value in (None, ANY) else str(widget.value)

        self.model.param.update(
            stakeholder_type=val(self.type_w),
            lifecycle_stage=val(self.stage_w),
            owner=val(self.owner_w),
            tag=val(self.tag_w),
            touched_after=val(self.after_w),
            touched_before=val(self.before_w),
            sort=self.sort_w.value or "",
            descending=bool(self.desc_w.value),
            page=0,
        )
        self.refresh()

    def _go(self, step: int) -> None:
        self.model.page = max(0, self.model.page + step)
        self.refresh()

    def refresh(self) -> None:
        try:
            rows = self.model.rows()
            total = self.model.count()
        except CrmError as error:
            self.status.object = E(str(error))
            return
        self.table.value = pd.DataFrame(rows, columns=model.CONTACT_COLUMNS)
        shown = f"{model.COUNT_CAP:,}+" if total > model.COUNT_CAP else f"{total:,}"
        first = self.model.page * model.PAGE_SIZE
        self.status.object = f"**{shown} contacts** — showing {first + 1 if rows else 0}–{first + len(rows)}"
        self.prev.disabled = self.model.page == 0
        self.next.disabled = len(rows) < model.PAGE_SIZE
        org_id = self.model.organization_id
        if org_id:
            name = self.workspace.store.scalar("SELECT name FROM organizations WHERE id = ?", [org_id]) or f"#{org_id}"
            clear = pn.widgets.Button(label=f"Organization: {name} ✕", color="light")
            clear.on_click(lambda _e: self.set_organization(None))
            self.org_chip.objects = [clear]
        else:
            self.org_chip.objects = []

    def _open(self, event) -> None:
        try:
            row = self.table.value.iloc[event.row]
        except IndexError:  # a click on a row the next keystroke already replaced
            return
        self.workspace.open_page("contacts", id=int(row["id"]))

    def _show_form(self) -> None:
        def done(row):
            self.form_area.objects = []
            if row:
                self.workspace.open_page("contacts", id=int(row["id"]))

        self.form_area.objects = [
            pn.pane.Markdown("### New contact"),
            RecordForm(workspace=self.workspace, on_done=done),
        ]

    def _export(self):
        from crm_workspace.services.export import to_xlsx_bytes

        frame = self.workspace.df(
            "contacts.list",
            sort=self.model.sort or None,
            descending=self.model.descending,
            limit=100_000,
            **self.model.filters(),
        )
        return io.BytesIO(to_xlsx_bytes(frame, "Contacts"))

    def __panel__(self):
        return pn.Column(
            pn.Row(pn.pane.Markdown("## Contacts"), self.new, self.export),
            self.form_area,
            pn.Row(self.search, self.sort_w, self.desc_w),
            pn.Row(self.type_w, self.stage_w, self.owner_w, self.tag_w, self.after_w, self.before_w),
            self.org_chip,
            self.status,
            self.table,
            pn.Row(self.prev, self.next),
            sizing_mode="stretch_width",
        )


class ContactsPage(pn.viewable.Viewer):
    """The "contacts" page: the list, or a record when ``page_args`` has ``id`` (or ``org``)."""

    workspace = param.ClassSelector(class_=Workspace)

    def __init__(self, **params):
        super().__init__(**params)
        self._list: ContactListView | None = None
        self.body = pn.Column(sizing_mode="stretch_width")
        self._seen: dict | None = None
        self.workspace.param.watch(self._route, ["page", "page_args"])
        self._route()

    def _route(self, *events):
        if events and self.workspace.page != "contacts":
            return  # another page's arguments: not ours
        args = dict(self.workspace.page_args or {})
        if args == self._seen and self.body.objects:
            return
        self._seen = args
        try:
            if args.get("id") is not None:
                self.body.objects = [ContactRecord(workspace=self.workspace, record_id=int(args["id"]))]
            elif args.get("org") is not None:
                self.body.objects = [OrganizationRecord(workspace=self.workspace, record_id=int(args["org"]))]
            else:
                if self._list is None:
                    self._list = ContactListView(workspace=self.workspace)
                if "organization_id" in args:
                    self._list.set_organization(args.get("organization_id"))
                self.body.objects = [self._list]
        except CrmError as error:
            back = pn.widgets.Button(label="◀ All contacts")
            back.on_click(lambda _e: self.workspace.open_page("contacts"))
            self.body.objects = [pn.pane.Alert(E(str(error)), alert_type="danger"), back]

    def __panel__(self):
        return self.body


class OrganizationsPage(pn.viewable.Viewer):
    workspace = param.ClassSelector(class_=Workspace)
    page = param.Integer(default=0, bounds=(0, None))

    def __init__(self, **params):
        super().__init__(**params)
        self.search = pn.widgets.TextInput(label="Search", placeholder="name, domain, city…", width=300)
        self.industry = pn.widgets.Select(
            label="Industry",
            options=[ANY]
            + [
                r["industry"]
                for r in self.workspace.query(
                    "SELECT DISTINCT industry FROM organizations WHERE industry IS NOT NULL ORDER BY 1 LIMIT 200"
                )
            ],
            width=160,
        )
        self.owner = pn.widgets.Select(label="Owner", options=[ANY, *_users(self.workspace)], width=120)
        self.sort = pn.widgets.Select(label="Sort by", options=list(model.ORG_SORTS), width=120)
        self.desc = pn.widgets.Checkbox(label="descending")
        self.table = pn.widgets.Tabulator(
            pd.DataFrame(), show_index=False, disabled=True, sizing_mode="stretch_width", height=520, selectable=False
        )
        self.table.on_click(self._open)
        self.status = pn.pane.Markdown()
        self.new = pn.widgets.Button(label="➕ New organization", color="primary", width=170)
        self.new.on_click(lambda _e: self._show_form())
        self.form_area = pn.Column()
        self.prev = pn.widgets.Button(label="◀ Previous", width=110)
        self.next = pn.widgets.Button(label="Next ▶", width=110)
        self.prev.on_click(lambda _e: self._go(-1))
        self.next.on_click(lambda _e: self._go(1))
        self.search.param.watch(self._reset, "value_input")
        for w in (self.industry, self.owner, self.sort, self.desc):
            w.param.watch(self._reset, "value")
        self.export = pn.widgets.FileDownload(
            callback=self._export, filename="organizations.xlsx", label="⬇ Export to Excel", width=160
        )
        self.workspace.param.watch(lambda _e: self.refresh(), "revision")
        self.refresh()

    def filters(self) -> dict:
        out = {"search": self.search.value_input or ""}
        if self.industry.value != ANY:
            out["industry"] = self.industry.value
        if self.owner.value != ANY:
            out["owner"] = self.owner.value
        return out

    def _reset(self, _e):
        self.page = 0
        self.refresh()

    def _go(self, step):
        self.page = max(0, self.page + step)
        self.refresh()

    def refresh(self):
        rows = model.list_organizations(
            self.workspace,
            sort=self.sort.value if not self.search.value_input else None,
            descending=self.desc.value,
            offset=self.page * model.PAGE_SIZE,
            **self.filters(),
        )
        total = model.count_organizations(self.workspace, **self.filters())
        self.table.value = pd.DataFrame(rows)
        shown = f"{model.COUNT_CAP:,}+" if total > model.COUNT_CAP else f"{total:,}"
        self.status.object = f"**{shown} organizations** — page {self.page + 1}"
        self.prev.disabled = self.page == 0
        self.next.disabled = len(rows) < model.PAGE_SIZE

    def _open(self, event):
        self.workspace.open_page("contacts", org=int(self.table.value.iloc[event.row]["id"]))

    def _show_form(self):
        def done(row):
            self.form_area.objects = []
            if row:
                self.workspace.open_page("contacts", org=int(row["id"]))

        self.form_area.objects = [
            pn.pane.Markdown("### New organization"),
            RecordForm(workspace=self.workspace, table="organizations", on_done=done),
        ]

    def _export(self):
        from crm_workspace.services.export import to_xlsx_bytes

        frame = self.workspace.df("contacts.organizations", limit=100_000, **self.filters())
        return io.BytesIO(to_xlsx_bytes(frame, "Organizations"))

    def __panel__(self):
        return pn.Column(
            pn.Row(pn.pane.Markdown("## Organizations"), self.new, self.export),
            self.form_area,
            pn.Row(self.search, self.industry, self.owner, self.sort, self.desc),
            self.status,
            self.table,
            pn.Row(self.prev, self.next),
            sizing_mode="stretch_width",
        )


# ---------------------------------------------------------------- records
def timeline_html(items: list[dict]) -> str:
    if not items:
        return "<p>No touchpoints yet.</p>"
    out = []
    for item in items:
        tags = "".join(f"<span class='crm-tag {E(t)}'>{E(t)}</span>" for t in (item["function"], item["channel"]) if t)
        body = f"<div>{E(item['body'])}</div>" if item["body"] else ""
        out.append(
            f"<div class='crm-tl crm-tl-{E(item['source'])}'><div class='meta'>{E((item['at'] or '')[:16].replace('T', ' '))}"
            f" · {E(item['kind'])} · {E(item['by'])} {tags}</div>"
            f"<div>{item['icon']} <b>{E(item['subject'])}</b></div>{body}</div>"
        )
    return "".join(out)


class ActivityLogger(pn.viewable.Viewer):
    """Log a call/email/meeting/note in two clicks (kind, then Save); create a task."""

    workspace = param.ClassSelector(class_=Workspace)
    table = param.String(default="contacts")
    record_id = param.Integer()

    def __init__(self, **params):
        super().__init__(**params)
        self.kind = "call"
        self.form = pn.Column(visible=False)
        self.subject = pn.widgets.TextInput(label="Subject", width=300)
        self.body = pn.widgets.TextAreaInput(label="Notes", width=300, height=70)
        self.channel = pn.widgets.Select(label="Channel", options=list(CHANNELS), width=120)
        self.due = pn.widgets.DatePicker(label="Due date", width=140)
        self.owner = pn.widgets.Select(
            label="Owner", options=_users(self.workspace) or [self.workspace.user], width=120
        )
        if self.workspace.user in self.owner.options:
            self.owner.value = self.workspace.user
        self.save = pn.widgets.Button(label="Save", color="primary")
        self.save.on_click(self._save)
        self.cancel = pn.widgets.Button(label="Cancel")
        self.cancel.on_click(lambda _e: setattr(self.form, "visible", False))
        self.error = pn.pane.Alert("", alert_type="danger", visible=False)
        buttons = []
        for kind, label in (
            ("call", "📞 Log call"),
            ("email", "✉️ Log email"),
            ("meeting", "🤝 Log meeting"),
            ("note", "📝 Add note"),
            ("task", "✅ New task"),
        ):
            button = pn.widgets.Button(label=label, color="light")
            button.on_click(lambda _e, k=kind: self._start(k))
            buttons.append(button)
        self.buttons = pn.Row(*buttons)

    def _start(self, kind: str) -> None:
        from crm_workspace.data.schema import CHANNEL_OF

        self.kind = kind
        self.subject.value = {"task": "Follow up"}.get(kind, kind.capitalize())
        self.body.value = ""
        self.channel.value = CHANNEL_OF.get(kind, "phone")
        task = kind == "task"
        self.due.visible = task
        self.owner.visible = task
        self.error.visible = False
        self.save.label = f"Save {kind}"
        self.form.objects = [
            pn.Row(self.subject, self.channel, self.due, self.owner),
            self.body,
            self.error,
            pn.Row(self.save, self.cancel),
        ]
        self.form.visible = True

    def _save(self, _e) -> None:
        due = None
        if self.kind == "task":
            if not self.due.value:
                self.error.object = "A task needs a due date."
                self.error.visible = True
                return
            due = f"{self.due.value.isoformat()}T17:00:00Z"
        try:
            model.log_activity(
                self.workspace,
                self.table,
                self.record_id,
                self.kind,
                subject=self.subject.value,
                body=self.body.value,
                channel=self.channel.value,
                due_at=due,
                owner=self.owner.value if self.kind == "task" else None,
            )
        except CrmError as error:
            self.error.object = E(str(error))
            self.error.visible = True
            return
        self.form.visible = False
        _notify(f"{self.kind.capitalize()} logged", "success")

    def __panel__(self):
        assert ACTIVITY_KINDS  # the buttons cover every kind
        return pn.Column(self.buttons, self.form)


class _Record(pn.viewable.Viewer):
    workspace = param.ClassSelector(class_=Workspace)
    record_id = param.Integer()
    table = "contacts"

    def __init__(self, **params):
        super().__init__(**params)
        self.row = self.workspace.store.get(self.table, self.record_id)  # NotFound shows at the page
        self.edit_area = pn.Column()
        self.edit = pn.widgets.Button(label="✏️ Edit", width=90)
        self.edit.on_click(lambda _e: self._show_edit())
        self.logger = ActivityLogger(workspace=self.workspace, table=self.table, record_id=self.record_id)
        self.more = pn.widgets.Button(label="Show more", color="light", width=120)
        self.limit = 100
        self.more.on_click(self._more)

    def _more(self, _e):
        self.limit += 200
        self.workspace.param.trigger("revision")

    def _show_edit(self):
        def done(_row):
            self.edit_area.objects = []

        self.edit_area.objects = [
            RecordForm(workspace=self.workspace, table=self.table, record_id=self.record_id, on_done=done)
        ]

    @param.depends("workspace.revision")
    def _timeline(self):
        items = model.timeline(self.workspace, self.table, self.record_id, self.limit)
        return pn.Column(
            pn.pane.HTML(timeline_html(items), stylesheets=[CSS], sizing_mode="stretch_width"),
            self.more if len(items) >= self.limit else None,
            sizing_mode="stretch_width",
        )

    def _deals(self):
        deals = model.deals_of(self.workspace, self.table, self.record_id)
        if not deals:
            return pn.pane.Markdown("No deals.")
        rows = "".join(
            f"<tr><td>{E(d['title'] or '')}</td><td>{E(d['stage'] or '')}</td>"
            f"<td style='text-align:right'>{d['amount'] or 0:,.0f} {E(d['currency'] or '')}</td>"
            f"<td>{E(d['status'] or '')}</td><td>{E(d['expected_close'] or '')}</td></tr>"
            for d in deals
        )
        return pn.pane.HTML(
            "<table class='crm-fields'><tr><td>deal</td><td>stage</td><td>amount</td><td>status</td><td>close</td></tr>"
            f"{rows}</table>",
            stylesheets=[CSS],
        )

    def _related(self):
        rows = model.related_people(self.workspace, self.table, self.record_id)
        if not rows:
            return pn.pane.Markdown("No relationships.")
        text = "".join(
            f"<li>{E(r['kind'] or '')} {E(r['direction'])} <b>{E(r['other'] or '')}</b> ({E(r['other_type'])})</li>"
            for r in rows[:100]
        )
        return pn.pane.HTML(f"<ul>{text}</ul>")

    def _own_deals_and_relationships(self):
        """This module's short lists, unless another plugin's section already shows them in full."""
        covered = {section.title for section in self.workspace.record_sections(self.table, self.record_id)}
        parts = [
            None if "Deals" in covered else self._deals(),
            None if "Relationships" in covered else self._related(),
        ]
        parts = [part for part in parts if part is not None]
        return pn.Column(*parts) if parts else pn.pane.Markdown("In the Deals and Relationships sections below.")

    def _sections(self):
        out = []
        for section in self.workspace.record_sections(self.table, self.record_id):
            try:
                out.append(pn.Card(section.view(), title=section.title, collapsed=False, sizing_mode="stretch_width"))
            except Exception as error:
                out.append(pn.pane.Alert(E(f"Section {section.title} ({section.plugin}) failed: {error}")))
        return out

    def _back(self, label="◀ All contacts", page="contacts"):
        back = pn.widgets.Button(label=label, color="light", width=140)
        back.on_click(lambda _e: self.workspace.open_page(page))
        return back


class ContactRecord(_Record):
    """A contact's page: details, lifecycle, deals, relationships, tasks and one timeline."""

    table = "contacts"

    @param.depends("workspace.revision")
    def _details(self):
        try:
            self.row = row = self.workspace.store.get("contacts", self.record_id)
        except CrmError as error:
            return pn.pane.Alert(E(str(error)), alert_type="warning")
        org = None
        if row.get("organization_id"):
            org = self.workspace.store.query(
                "SELECT id, name FROM organizations WHERE id = ?", [row["organization_id"]]
            )
        pairs = [
            ("Title", row.get("title")),
            ("Email", row.get("email")),
            ("Phone", row.get("phone")),
            ("Owner", row.get("owner")),
            ("Stakeholder type", row.get("stakeholder_type")),
            ("Lifecycle stage", row.get("lifecycle_stage")),
            ("Tags", ", ".join(model.tags_of(self.workspace, self.record_id))),
            ("Notes", row.get("notes")),
            ("Version", row.get("version")),
        ]
        pairs += [(c.replace("_", " ").capitalize(), row.get(c)) for c in model.consent_fields(self.workspace)]
        items = [
            pn.pane.HTML(f"<h2 class='crm-record-title'>{E(_name(row))}</h2>"),
            pn.pane.HTML(_fields_table(pairs), stylesheets=[CSS]),
        ]
        if org:
            link = pn.widgets.Button(label=f"🏢 {org[0]['name']}", color="light")
            link.on_click(lambda _e, i=org[0]["id"]: self.workspace.open_page("contacts", org=i))
            items.insert(1, link)
        return pn.Column(*items)

    @param.depends("workspace.revision")
    def _lifecycle(self):
        events = model.lifecycle_history(self.workspace, self.record_id)
        if not events:
            return pn.pane.Markdown("No lifecycle history.")
        text = "".join(
            f"<li>{E((e['at'] or '')[:10])}: {E(e['from_stage'] or '—')} → <b>{E(e['to_stage'])}</b>"
            f" ({E(e['by'] or '')})</li>"
            for e in events
        )
        return pn.pane.HTML(f"<ul>{text}</ul>")

    @param.depends("workspace.revision")
    def _deals_view(self):
        return self._own_deals_and_relationships()

    def __panel__(self):
        return pn.Column(
            pn.Row(self._back(), self.edit),
            self.edit_area,
            pn.Row(
                pn.Column(
                    self._details,
                    "### Lifecycle",
                    self._lifecycle,
                    "### Deals & relationships",
                    self._deals_view,
                    width=480,
                ),
                pn.Column("### Timeline", self.logger, self._timeline, sizing_mode="stretch_width"),
                sizing_mode="stretch_width",
            ),
            *self._sections(),
            sizing_mode="stretch_width",
        )


class OrganizationRecord(_Record):
    """An organization's page: details, its people, deals and timeline."""

    table = "organizations"

    @param.depends("workspace.revision")
    def _details(self):
        try:
            row = self.workspace.store.get("organizations", self.record_id)
        except CrmError as error:
            return pn.pane.Alert(E(str(error)), alert_type="warning")
        pairs = [
            (k.capitalize(), row.get(k)) for k in ("domain", "industry", "city", "country", "phone", "website", "owner")
        ]
        return pn.Column(
            pn.pane.HTML(f"<h2 class='crm-record-title'>{E(row['name'])}</h2>"),
            pn.pane.HTML(_fields_table(pairs), stylesheets=[CSS]),
        )

    @param.depends("workspace.revision")
    def _people(self):
        people = self.workspace.query(
            "SELECT id, first_name, last_name, title, email FROM contacts WHERE organization_id = ?"
            " ORDER BY last_name, first_name LIMIT 100",
            [self.record_id],
        )
        buttons = []
        for p in people:
            b = pn.widgets.Button(label=f"{_name(p)} — {p['title'] or ''}", color="light")
            b.on_click(lambda _e, i=p["id"]: self.workspace.open_page("contacts", id=i))
            buttons.append(b)
        all_people = pn.widgets.Button(label="All people in the contact list ▶", color="light")
        all_people.on_click(lambda _e: self.workspace.open_page("contacts", organization_id=self.record_id))
        return pn.Column(*buttons, all_people)

    @param.depends("workspace.revision")
    def _deals_view(self):
        return self._own_deals_and_relationships()

    def __panel__(self):
        return pn.Column(
            pn.Row(self._back("◀ Organizations", "organizations"), self.edit),
            self.edit_area,
            pn.Row(
                pn.Column(
                    self._details, "### People", self._people, "### Deals & relationships", self._deals_view, width=480
                ),
                pn.Column("### Timeline", self.logger, self._timeline, sizing_mode="stretch_width"),
                sizing_mode="stretch_width",
            ),
            *self._sections(),
            sizing_mode="stretch_width",
        )


# ------------------------------------------------------------------ tasks
class MyTasks(pn.viewable.Viewer):
    """Due and overdue tasks of the acting user, with mark-done."""

    workspace = param.ClassSelector(class_=Workspace)

    @param.depends("workspace.revision")
    def _tasks(self):
        tasks = model.my_tasks(self.workspace)
        if not tasks:
            return pn.pane.Markdown("Nothing due. 🎉")
        rows = []
        for task in tasks:
            when = (task["due_at"] or "")[:10]
            label = "<span style='color:#b00020'>overdue</span>" if task["overdue"] else "due"
            who = task["contact"] or task["organization"] or ""
            done = pn.widgets.Button(label="Mark done", color="success", width=110)
            done.on_click(lambda _e, t=task: self._done(t))
            rows.append(
                pn.Row(
                    pn.pane.HTML(f"<b>{E(task['subject'] or 'Task')}</b> — {E(who)} · {label} {E(when)}", width=520),
                    done,
                )
            )
        return pn.Column(*rows)

    def _done(self, task):
        try:
            model.mark_done(self.workspace, task["id"], task["version"])
        except CrmError as error:
            _notify(str(error))

    def __panel__(self):
        return pn.Column(f"## My tasks ({E(self.workspace.user)})", self._tasks, sizing_mode="stretch_width")


# ------------------------------------------------------------- duplicates
class DuplicatesPage(pn.viewable.Viewer):
    """Possible duplicates with their score; merge field by field; undo from the merge log."""

    workspace = param.ClassSelector(class_=Workspace)

    def __init__(self, **params):
        super().__init__(**params)
        self.merge_area = pn.Column()
        self.status = pn.pane.Alert("", alert_type="success", visible=False, sizing_mode="stretch_width")
        self.pairs: list[dict] = []

    @param.depends("workspace.revision")
    def _pairs(self):
        self.pairs = merge.find_duplicates(self.workspace, limit=100)
        if not self.pairs:
            return pn.pane.Markdown("No possible duplicates found.")
        rows = []
        for pair in self.pairs:
            button = pn.widgets.Button(label="Review & merge", width=140)
            button.on_click(lambda _e, p=pair: self._review(p))
            rows.append(
                pn.Row(
                    pn.pane.HTML(
                        f"<b>{E(pair['a_name'])}</b> (#{pair['a']}) ↔ <b>{E(pair['b_name'])}</b> (#{pair['b']})"
                        f" · {E(pair['organization'] or '')} · {E(pair['reason'])} · score <b>{pair['score']:.0f}</b>",
                        width=640,
                    ),
                    button,
                )
            )
        return pn.Column(*rows)

    def _review(self, pair: dict) -> None:
        store = self.workspace.store
        try:
            a, b = store.get("contacts", pair["a"]), store.get("contacts", pair["b"])
        except CrmError as error:
            _notify(str(error))
            return
        pickers = {}
        rows = [pn.pane.HTML(f"<b>Keep #{a['id']} {E(_name(a))}, merge #{b['id']} {E(_name(b))} into it</b>")]
        for field in merge.MERGEABLE_FIELDS:
            if a.get(field) == b.get(field):
                continue
            left = f"#{a['id']}: {a.get(field) if a.get(field) is not None else '—'}"
            right = f"#{b['id']}: {b.get(field) if b.get(field) is not None else '—'}"
            default = "loser" if a.get(field) in (None, "") else "winner"
            picker = pn.widgets.RadioButtonGroup(
                label=field, options={left: "winner", right: "loser"}, value=default, color="light"
            )
            pickers[field] = picker
            rows.append(pn.Row(pn.pane.HTML(E(field), width=140), picker))
        go = pn.widgets.Button(label="Merge", color="danger")
        cancel = pn.widgets.Button(label="Cancel")

        def do_merge(_e):
            try:
                log_id = merge.merge_contacts(
                    self.workspace,
                    a["id"],
                    b["id"],
                    {f: p.value for f, p in pickers.items()},
                    winner_version=a["version"],
                    loser_version=b["version"],
                )
            except CrmError as error:
                self.status.param.update(object=E(str(error)), alert_type="danger", visible=True)
                return
            self.merge_area.objects = []
            self.status.param.update(
                object=f"Merged (merge {log_id}): undo it from the merge log below.", alert_type="success", visible=True
            )

        go.on_click(do_merge)
        cancel.on_click(lambda _e: setattr(self.merge_area, "objects", []))
        self.status.visible = False
        self.merge_area.objects = [pn.Card(*rows, pn.Row(go, cancel), title="Merge", collapsible=False)]

    @param.depends("workspace.revision")
    def _log(self):
        entries = merge.merge_log(self.workspace, 50)
        if not entries:
            return pn.pane.Markdown("No merges yet.")
        rows = []
        for entry in entries:
            text = (
                f"#{entry['id']} {E((entry['at'] or '')[:16])} by {E(entry['user'] or '')}: #{entry['loser_id']}"
                f" merged into #{entry['winner_id']} {E(entry['winner'] or '')} — {E(entry['status'])}"
            )
            row = [pn.pane.HTML(text, width=620)]
            if entry["status"] == "merged":
                undo = pn.widgets.Button(label="Undo merge", width=120)
                undo.on_click(lambda _e, i=entry["id"]: self._undo(i))
                row.append(undo)
            rows.append(pn.Row(*row))
        return pn.Column(*rows)

    def _undo(self, log_id: int) -> None:
        try:
            merge.undo_merge(self.workspace, log_id)
        except CrmError as error:
            _notify(str(error))

    def __panel__(self):
        return pn.Column(
            "## Possible duplicates",
            self.status,
            self.merge_area,
            self._pairs,
            "### Merge log",
            self._log,
            sizing_mode="stretch_width",
        )


def now_date():
    return datetime.now(UTC).date()
