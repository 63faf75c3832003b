"""One ticket: properties, SLA markers, the thread, the composer; the requester at a glance; who else is here.

The SLA markers and the presence line refresh every few seconds (the clock moves even when no
data changes); the thread refreshes on any write. A reply carries the ticket version seen when
the page opened (or last sent): if someone else wrote since, the page shows what changed and
asks before sending.
"""

from __future__ import annotations

import io
import mimetypes
import os
from typing import Any

import panel as pn
import param

from crm_workspace import Workspace
from crm_workspace.errors import ConflictError, CrmError
from crm_workspace.web.display import ago

from .. import clock, context, presence
from ..outbound import retry, send_pending
from ..rules import ticket_sla
from ..schema import PRIORITIES, STATUSES
from ..tickets import attachment_bytes, get_ticket, merge_ticket, post_message, thread, update_ticket
from .common import CSS, READ_ONLY_TIP, E, notify, read_only, sla_badge
from .ticket_parts import side_html, thread_html

REFRESH_MS = 3000


class TicketView(pn.viewable.Viewer):
    workspace = param.ClassSelector(class_=Workspace)
    ticket_id = param.Integer()

    def __init__(self, **params: Any):
        super().__init__(**params)
        ws = self.workspace
        self.ticket = get_ticket(ws, self.ticket_id)
        self.seen_version = self.ticket["version"]
        self.seen_message = self._last_message()
        self.session = f"{os.getpid()}-{id(self):x}"  # unique across serve processes
        locked = read_only(ws)
        tip = READ_ONLY_TIP if locked else None
        agents = [
            r["username"] for r in ws.query("SELECT username FROM users WHERE role != 'viewer' ORDER BY username")
        ]
        self.status = pn.widgets.Select(
            label="Status", options=list(STATUSES), value=self.ticket["status"], width=120, disabled=locked
        )
        self.priority = pn.widgets.Select(
            label="Priority", options=list(PRIORITIES), value=self.ticket["priority"], width=110, disabled=locked
        )
        self.assignee = pn.widgets.Select(
            label="Assignee",
            options={"(nobody)": "", **{a: a for a in agents}},
            value=self.ticket["assignee"] or "",
            width=130,
            disabled=locked,
        )
        self.team = pn.widgets.TextInput(label="Team", value=self.ticket["team"] or "", width=120, disabled=locked)
        self.save = pn.widgets.Button(
            label="Save", color="primary", width=80, align="end", disabled=locked, description=tip
        )
        self.save.on_click(self._save)
        self.badges = pn.pane.HTML("", css_classes=["svc-badges"], stylesheets=[CSS])
        self.presence = pn.pane.HTML("", css_classes=["svc-presence-line"], stylesheets=[CSS])
        self.thread = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["svc-thread"], stylesheets=[CSS])
        self.files = pn.Column()
        self.side = pn.pane.HTML("", width=320, css_classes=["svc-side"], stylesheets=[CSS])
        self.sections = pn.Column(width=320)
        self.offers: list = []  # sections that offer text for the reply (``insert_text``)
        self.kind = pn.widgets.RadioButtonGroup(
            options={"Public reply": "public", "Internal note": "note"}, value="public", disabled=locked
        )
        self.body = pn.widgets.TextAreaInput(
            label="Reply",
            placeholder="Write a reply…",
            height=140,
            sizing_mode="stretch_width",
            disabled=locked,
            css_classes=["svc-composer"],
        )
        self.after = pn.widgets.Select(
            label="Then set status",
            options={"(keep)": "", "pending": "pending", "open": "open", "on_hold": "on_hold", "solved": "solved"},
            value="",
            width=140,
            disabled=locked,
        )
        self.upload = pn.widgets.FileInput(multiple=False, width=260, disabled=locked)
        self.send = pn.widgets.Button(
            label="Send", color="primary", width=100, align="end", disabled=locked, description=tip
        )
        self.send.on_click(self._send)
        self.macro = pn.widgets.Select(label="Macro", options=self._macro_options(), width=180, disabled=locked)
        self.macro.param.watch(self._apply_macro, "value")
        self.conflict = pn.Column(visible=False)
        self.merge = pn.widgets.Button(
            label="Merge into the candidate ticket",
            color="warning",
            width=260,
            visible=False,
            disabled=locked,
            description=tip,
        )
        self.merge.on_click(self._merge)
        self.unsent = pn.Column()
        self.body.param.watch(lambda _e: self._tick(), "value_input")
        ws.param.watch(self._reload, "revision")
        self._reload()
        if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
            # once the browser has drawn the page: a change before then never reaches it (SessionGuard.start)
            pn.state.onload(lambda: pn.state.add_periodic_callback(self._tick, period=REFRESH_MS))
            pn.state.on_session_destroyed(lambda _ctx: presence.leave(ws, self.ticket_id, ws.user, self.session))
        self._tick()

    # ---------------------------------------------------------------- reading
    def _macro_options(self) -> dict[str, Any]:
        return {"(insert a macro)": 0, **{m["name"]: m["id"] for m in context.macros(self.workspace)}}

    def _last_message(self) -> int:
        """The newest message's id: what this agent had seen when they last synced with the thread."""
        return self.workspace.store.scalar(
            "SELECT coalesce(max(id), 0) FROM ticket_messages WHERE ticket_id = ?", [self.ticket_id]
        )

    def _synced(self) -> None:
        self.seen_version = get_ticket(self.workspace, self.ticket_id)["version"]
        self.seen_message = self._last_message()

    def _reload(self, *_events) -> None:
        ws = self.workspace
        try:
            self.ticket = get_ticket(ws, self.ticket_id)
        except CrmError:
            return
        messages = thread(ws, self.ticket_id)
        self.thread.object = thread_html(messages, self.ticket.get("description"))
        self.files.objects = [
            self._download(a)
            for a in ws.query(
                "SELECT id, filename, size, content_type FROM ticket_attachments WHERE ticket_id = ? AND too_big = 0 ORDER BY id",
                [self.ticket_id],
            )
        ]
        self.unsent.objects = [
            self._retry_button(m)
            for m in messages
            if m["kind"] == "public" and m["send_status"] in ("failed", "unknown")
        ]
        self.side.object = self._side_html()
        if not self.sections.objects:
            self.sections.objects = self._sections()
        candidate = self.ticket.get("merge_candidate_id")
        self.merge.visible = bool(candidate) and self.ticket["status"] != "closed"
        self.merge.label = f"Merge into #{candidate}" if candidate else "Merge"
        self._badges()

    def _download(self, attachment: dict) -> pn.widgets.FileDownload:
        ws, aid = self.workspace, attachment["id"]

        def data() -> io.BytesIO:
            return io.BytesIO(attachment_bytes(ws, aid)[1])

        return pn.widgets.FileDownload(
            callback=data,
            filename=attachment["filename"],
            label=f"Download {attachment['filename']} ({attachment['size']:,} bytes)",
            embed=False,
            width=360,
        )

    def _retry_button(self, message: dict) -> pn.widgets.Button:
        button = pn.widgets.Button(
            label=f"Retry sending reply {message['id']}",
            color="warning",
            width=220,
            disabled=read_only(self.workspace),
        )

        def again(_event) -> None:
            try:
                retry(self.workspace, message["id"])
                send_pending(self.workspace)
            except CrmError as error:
                notify("error", str(error))

        button.on_click(again)
        return button

    def _side_html(self) -> str:
        return side_html(self.workspace, self.ticket)

    def _sections(self) -> list:
        """What other modules show on a ticket (``crm_record_sections`` for table ``tickets``)."""
        parts = []
        for section in self.workspace.record_sections("tickets", self.ticket_id):
            try:
                shown = section.view()
                if isinstance(shown, param.Parameterized) and "insert_text" in shown.param:
                    self.offers.append(shown)
                    # the contract of a section offering text for the reply (the knowledge base's
                    # "Insert into reply"): each new value of its ``insert_text`` joins the composer
                    shown.param.watch(lambda event: event.new and self.insert_text(event.new), "insert_text")
                parts += [pn.pane.Markdown(f"#### {E(section.title)}"), shown]
            except Exception as error:  # another module's section must not break the ticket
                parts.append(pn.pane.Alert(f"{E(section.title)}: {E(str(error))}", alert_type="danger"))
        return parts

    def _badges(self) -> None:
        now = clock.now()
        state = ticket_sla(self.workspace, self.ticket, now)
        badges = []
        for c in state.clocks:
            detail = f"due {ago(c.due_at, now)}" if c.due_at and c.state in ("ok", "soon") else ""
            badges.append(sla_badge(c.metric.replace("_", " "), c.state, detail))
        self.badges.object = " ".join(badges)

    def _tick(self) -> None:
        """Say we are here (replying while the composer holds text), show who else is, move the SLA clock."""
        ws = self.workspace
        action = "replying" if (self.body.value_input or self.body.value or "").strip() else "viewing"
        presence.touch(ws, self.ticket_id, ws.user, self.session, action)  # a side file, not the workspace
        others = presence.others(ws, self.ticket_id, ws.user, self.session)
        self.presence.object = (
            "<span class='svc-presence'>"
            + E(", ".join(f"{who} is {what}" for who, what in sorted(others.items())))
            + "</span>"
            if others
            else ""
        )
        self._badges()

    # ---------------------------------------------------------------- writing
    def _save(self, _event=None) -> None:
        changes = {
            "status": self.status.value,
            "priority": self.priority.value,
            "assignee": self.assignee.value or None,
            "team": self.team.value.strip() or None,
        }
        try:
            self.ticket = update_ticket(self.workspace, self.ticket_id, changes, version=self.seen_version)
        except ConflictError:
            notify("warning", "Someone changed this ticket since you opened it: review the thread, then save again")
            self._synced()
            return
        except CrmError as error:
            notify("error", str(error))
            return
        self.seen_version = self.ticket["version"]
        notify("success", "Ticket saved")

    def insert_text(self, text: str) -> None:
        """Add ``text`` to the reply being written (a suggested article's link, say)."""
        current = self.body.value_input or self.body.value or ""
        self.body.value = (current.rstrip() + "\n\n" if current.strip() else "") + text
        self.body.value_input = self.body.value

    def _merge(self, _event=None) -> None:
        """The merge queue's answer: this ticket's thread moves into its candidate, this one closes."""
        target = self.ticket.get("merge_candidate_id")
        try:
            merge_ticket(self.workspace, self.ticket_id, target)
        except CrmError as error:
            notify("error", str(error))
            return
        notify("success", f"Merged into #{target}")
        self.workspace.open_page("service", id=int(target))

    def _apply_macro(self, event) -> None:
        if not event.new:
            return
        macro = next((m for m in context.macros(self.workspace) if m["id"] == event.new), None)
        try:
            text = context.render_macro(self.workspace, macro, self.ticket) if macro else ""
        except CrmError as error:
            notify("error", str(error))
            return
        self.body.value = (self.body.value + "\n\n" if self.body.value else "") + text
        if macro and macro.get("set_status"):
            self.after.value = macro["set_status"]
        self.macro.value = 0

    def _send(self, _event=None, *, force: bool = False) -> None:
        text = self.body.value_input or self.body.value or ""
        try:
            message = post_message(
                self.workspace,
                self.ticket_id,
                kind=self.kind.value,
                body_text=text,
                version=None if force else self.seen_version,
                set_status=self.after.value or None,
                attachments=self._uploaded(),
            )
        except ConflictError:
            self._ask(text)
            return
        except CrmError as error:
            notify("error", str(error))
            return
        self.conflict.visible = False
        self.body.value = self.body.value_input = ""
        self.upload.param.update(value=None, filename=None)
        self.upload.clear()
        self._synced()
        if message["kind"] == "public":
            try:
                send_pending(self.workspace)
            except CrmError as error:
                notify("warning", f"Reply kept, not sent yet: {error}")
            status = self.workspace.store.scalar(
                "SELECT send_status FROM ticket_messages WHERE id = ?", [message["id"]]
            )
            notify(
                "success" if status == "sent" else "warning",
                "Reply sent" if status == "sent" else f"Reply kept as {status}: it will be retried",
            )
        else:
            notify("success", "Note added")
        self._reload()

    def _uploaded(self) -> list[dict]:
        """The file chosen in the composer, as an attachment of the reply (kept within the size limit)."""
        if not self.upload.value or not self.upload.filename:
            return []
        content_type = mimetypes.guess_type(self.upload.filename)[0] or "application/octet-stream"
        return [{"filename": self.upload.filename, "data": bytes(self.upload.value), "content_type": content_type}]

    def _ask(self, text: str) -> None:
        """The thread moved on since this agent looked: show what is new, send only if they still want to."""
        # by id, not time: a message's and a ticket's clocks need not agree (an import, a test clock)
        newer = [m for m in thread(self.workspace, self.ticket_id) if m["id"] > self.seen_message][-3:]
        summary = "".join(
            f"<li>{E(m['kind'])} by {E(m['author'] or m['sender'] or '?')}: {E((m['body_text'] or '')[:140])}</li>"
            for m in newer
        )
        send_anyway = pn.widgets.Button(label="Send anyway", color="danger", width=130)
        cancel = pn.widgets.Button(label="Review first", width=120)
        send_anyway.on_click(lambda _e: self._send(force=True))

        def review(_e) -> None:
            self.conflict.visible = False
            self._synced()
            self._reload()

        cancel.on_click(review)
        self.conflict.objects = [
            pn.pane.Alert(
                f"**Someone else updated this ticket while you were writing.** Your reply was not sent.<ul>{summary}</ul>",
                alert_type="warning",
                css_classes=["svc-conflict"],
            ),
            pn.Row(send_anyway, cancel),
        ]
        self.conflict.visible = True
        self._reload()

    def __panel__(self):
        back = pn.widgets.Button(label="◀ Queue", width=100)
        back.on_click(lambda _e: self.workspace.open_page("service"))
        title = pn.pane.HTML(
            f"<h2 class='svc-title'>#{int(self.ticket['id'])} {E(self.ticket['subject'])}</h2>",
            sizing_mode="stretch_width",
        )
        composer = pn.Column(
            pn.Row(self.kind, self.macro),
            self.body,
            pn.Row(self.after, self.upload, self.send),
            self.conflict,
            sizing_mode="stretch_width",
        )
        main = pn.Column(
            self.badges, self.presence, self.thread, self.files, self.unsent, composer, sizing_mode="stretch_width"
        )
        return pn.Column(
            pn.Row(back, title),
            pn.Row(self.status, self.priority, self.assignee, self.team, self.save),
            pn.Row(main, pn.Column(self.side, self.sections, width=330), sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )
