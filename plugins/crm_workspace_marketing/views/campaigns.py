"""The Campaigns tab: the campaigns and their numbers, an editor, preview and test, sending and its progress."""

from __future__ import annotations

import contextlib
import html
import json
import threading

import nh3
import panel as pn
import param

from crm_workspace import CrmError
from crm_workspace.web.deferred import lazy_card
from crm_workspace.web.display import when_html

from .. import sending
from ..model import MarketingModel
from .common import alert, button, say, table

STARTER_HTML = """<html><body>
<p>Hello {{ first_name | default("there") }},</p>
<p>Our news this month: <a href="https://example.com/news">read it here</a>.</p>
<p>— The team</p>
</body></html>"""


def ab_variants(subjects: str, loaded: list[dict]) -> list[dict]:
    """The A/B variants from the editor's subject lines (line i is variant i's subject), keeping each
    loaded variant's own HTML and text; a variant left with nothing to test is dropped."""
    lines = [line.strip() for line in subjects.rstrip().split("\n")] if subjects.strip() else []
    found = []
    for i in range(max(len(lines), len(loaded))):
        variant = {k: v for k, v in (loaded[i] if i < len(loaded) else {}).items() if k != "subject"}
        if i < len(lines) and lines[i]:
            variant["subject"] = lines[i]
        if any(variant.get(k) for k in ("subject", "html", "text")):
            found.append(variant)
    return found


class CampaignEditor(param.Parameterized):
    """The fields of the campaign being written, as params the inputs are bound to."""

    campaign_name = param.String(default="", label="Name")
    subject = param.String(default="News for {{ first_name | default('you') }}")
    segment = param.String(default="")
    html = param.String(default=STARTER_HTML)
    text = param.String(default="", doc="Plain text (left empty: made from the HTML).")
    variant_subject = param.String(
        default="", doc="A/B test: up to three other subject lines, one per line (empty: no test)."
    )
    #: the A/B variants as loaded: a variant's own HTML or text (set in a notebook) is kept on saving
    loaded_variants = param.List(default=[], precedence=-1)
    share = param.Number(default=0.2, bounds=(0.05, 0.5), doc="A/B test: the share of the audience that tests.")
    metric = param.Selector(default="opens", objects=["opens", "clicks", "revenue"])
    wait_hours = param.Number(default=4, bounds=(0, 336))

    def values(self) -> dict:
        ab = None
        found = ab_variants(self.variant_subject, self.loaded_variants)
        if found:
            ab = json.dumps(
                {
                    "variants": found,
                    "share": self.share,
                    "metric": self.metric,
                    "wait_hours": self.wait_hours,
                }
            )
        return {
            "name": self.campaign_name,
            "subject": self.subject,
            "segment_id": self.segment or None,
            "html": self.html,
            "text": self.text,
            "ab": ab,
        }


class CampaignsTab(pn.viewable.Viewer):
    model = param.ClassSelector(class_=MarketingModel)

    def __init__(self, **params):
        super().__init__(**params)
        ws = self.model.workspace
        self.read_only = ws.read_only
        self.editor = CampaignEditor()
        self.row: dict | None = None
        self.message = pn.Column()
        self.chooser = pn.widgets.Select(label="Campaign", options=[""], width=280)
        self.chooser.param.watch(self._choose, "value")
        self.save_button = button("Save draft", self.read_only, width=140)
        self.save_button.on_click(self._save)
        self.preview_contact = pn.widgets.IntInput(label="Preview as contact #", value=None, width=170)
        self.preview_button = pn.widgets.Button(label="Preview", width=110)
        self.preview_button.on_click(self._preview)
        self.preview_box = pn.Column(sizing_mode="stretch_width")
        self.test_to = pn.widgets.TextInput(
            label="Send a test to",
            placeholder="you@example.com",
            width=260,
            disabled=self.read_only,
            css_classes=["mk-test-to"],
        )
        self.test_button = button("Send test", self.read_only, kind="default", width=120)
        self.test_button.on_click(self._test)
        self.send_button = button("Send to the segment", self.read_only, kind="success", width=200)
        self.send_button.on_click(self._ask)
        self.confirm_text = pn.pane.HTML("", css_classes=["mk-confirm-text"])
        self.confirm_button = button("Send now", self.read_only, kind="danger", width=200)
        self.confirm_button.on_click(self._send)
        self.cancel_button = pn.widgets.Button(label="Cancel", width=100)
        self.cancel_button.on_click(lambda _e: setattr(self.confirm, "visible", False))
        self.confirm = pn.Column(
            self.confirm_text,
            pn.Row(self.confirm_button, self.cancel_button),
            visible=False,
            css_classes=["mk-confirm"],
            styles={"border": "1px solid #f0ad4e", "padding": "6px", "border-radius": "4px"},
        )
        self.refresh_button = pn.widgets.Button(label="Refresh progress", width=150)
        self.refresh_button.on_click(lambda _e: self.model.workspace.changed())
        self.segment_select = pn.widgets.Select.from_param(
            self.editor.param.segment,
            options=[""],
            label="Segment",
            width=260,
            disabled=self.read_only,
            css_classes=["mk-campaign-segment"],
        )
        self._names()
        ws.param.watch(self._segments_changed, "revision")

    def _names(self) -> None:
        frame = self.model.campaigns()
        self.chooser.options = ["", *frame.name]
        self._segments_changed()

    def _segments_changed(self, _event=None) -> None:
        """The segments to choose from, kept current (one saved on the Segments tab appears here)."""
        with contextlib.suppress(CrmError):
            names = ["", *self.model.segment_names()]
            if names != self.segment_select.options:
                self.segment_select.options = names

    def _choose(self, event) -> None:
        if not event.new:
            self.row = None
            self.editor.param.update(campaign_name="", variant_subject="", loaded_variants=[])
            return
        row = self.model.campaign_row(event.new)
        segment = self.model.segment_name(row["segment_id"])
        ab = json.loads(row["ab"]) if row.get("ab") else {}
        loaded = [dict(v) for v in ab.get("variants") or []]
        self.row = row
        self.editor.param.update(
            campaign_name=row["name"],
            subject=row["subject"] or "",
            segment=segment or "",
            html=row["html"] or "",
            text=row["text"] or "",
            variant_subject="\n".join(v.get("subject", "") for v in loaded).rstrip("\n"),
            loaded_variants=loaded,
            share=ab.get("share", 0.2),
            metric=ab.get("metric", "opens"),
            wait_hours=ab.get("wait_hours", 4),
        )
        self.model.campaign = row["name"]

    def _save(self, _event=None) -> None:
        try:
            values = self.editor.values()
            if values["segment_id"]:
                values["segment_id"] = self.model.segment_id(values["segment_id"])
            same = self.row and self.row["name"].lower() == values["name"].strip().lower()
            row = self.model.save_campaign(
                values, self.row["id"] if same else None, self.row["version"] if same else None
            )
        except CrmError as error:
            say(self.message, str(error), "danger")
            return
        self._names()
        # the saved row (its new version) even when the chooser already shows it: a second save is no conflict
        self.row = row
        self.editor.loaded_variants = [
            dict(v) for v in (json.loads(row["ab"]) if row.get("ab") else {}).get("variants", [])
        ]
        self.chooser.value = row["name"]
        say(self.message, f"Saved '{row['name']}' ({row['status']}).")

    def _preview(self, _event=None) -> None:
        if not self.row:
            say(self.message, "save the campaign first", "warning")
            return
        try:
            shown = self.model.preview(self.row["name"], self.preview_contact.value)
        except CrmError as error:
            self.preview_box[:] = [alert(str(error))]
            return
        safe = nh3.clean(shown["html"])  # the author's HTML, without scripts, inside the app
        self.preview_box[:] = [
            pn.pane.HTML(f"<div class='mk-preview-subject'><b>Subject:</b> {html.escape(shown['subject'])}</div>"),
            pn.pane.HTML(
                f"<div class='mk-preview' style='border:1px solid #ddd;padding:8px'>{safe}</div>",
                sizing_mode="stretch_width",
            ),
            pn.pane.HTML(f"<pre class='mk-preview-text'>{html.escape(shown['text'])}</pre>"),
        ]

    def _test(self, _event=None) -> None:
        try:
            if not self.row:
                raise CrmError("save the campaign first")
            self.model.send_test(self.row["name"], self.test_to.value, self.preview_contact.value)
        except CrmError as error:
            say(self.message, str(error), "danger")
            return
        say(self.message, f"Test sent to {self.test_to.value}.")

    def _saved_name(self) -> str | None:
        """The campaign's name once it is saved (the confirm step hidden); None, with a message, before."""
        self.confirm.visible = False
        if not self.row:
            say(self.message, "save the campaign first", "warning")
            return None
        return self.row["name"]

    def _ask(self, _event=None) -> None:
        """The confirm step: who would receive the campaign, in a number, before anything is sent."""
        name = self._saved_name()
        if name is None:
            return
        try:
            self.row = self.model.campaign_row(name)
            if self.row["status"] == "sent":
                raise CrmError(f"'{name}' was sent already")
            e, row = self.editor, self.row
            unsaved = (e.subject, e.html, e.text or "", e.segment or "") != (
                row["subject"] or "",
                row["html"] or "",
                row["text"] or "",
                self.model.segment_name(row["segment_id"]) or "",
            )
            if unsaved and row["status"] == "draft":
                raise CrmError("the campaign has unsaved changes: save the draft first, then send what you saved")
            people = self.model.audience_count(name) if self.row.get("segment_id") else None
            if people is None:
                raise CrmError(f"'{name}' has no segment: choose who receives it and save the draft")
        except CrmError as error:
            say(self.message, str(error), "danger")
            return
        if not people and self.row["status"] == "draft":
            say(
                self.message, f"Nobody in '{name}'s segment can receive it (consent, unsubscribed, bounced).", "warning"
            )
            return
        segment = self.model.segment_name(self.row["segment_id"]) or ""
        self.confirm_text.object = (
            f"<b>Send '{html.escape(name)}' to {people:,} {'person' if people == 1 else 'people'}?</b><br>"
            f"Members of '{html.escape(segment)}' with marketing consent who have not unsubscribed,"
            " bounced or been erased, each address once. This cannot be undone."
        )
        self.confirm_button.label = f"Send to {people:,} {'person' if people == 1 else 'people'}"
        self.confirm.visible = True
        self.message[:] = []

    def _send(self, _event=None) -> None:
        name = self._saved_name()
        if name is None:
            return
        try:
            queued = self.model.queue(name)
        except CrmError as error:
            say(self.message, str(error), "danger")
            return
        workspace = self.model.workspace

        def deliver() -> None:  # off the session's thread; the progress below shows how it goes
            with contextlib.suppress(CrmError):  # the reason stays in the ledger (failures), the next run retries
                sending.send(workspace, name)

        threading.Thread(target=deliver, name=f"send-{self.row['id']}", daemon=True).start()
        say(self.message, f"Sending '{name}': {queued:,} messages queued. The progress below follows it.")

    # ------------------------------------------------------------- sections
    def _table(self, _revision=None):
        frame = self.model.campaigns()
        columns = [
            "name",
            "status",
            "segment",
            "sent",
            "delivered",
            "bounced",
            "unique_opens",
            "unique_clicks",
            "unsubscribes",
            "open_rate",
            "click_rate",
        ]
        return table(frame[columns], height=230)

    def _progress(self, name, _revision=None):
        if not name:
            return pn.pane.Markdown("Choose a campaign to see its sending.")
        try:
            progress = self.model.progress(name)
            failures = self.model.failures(name)
            audience = self.model.audience_count(name)
            decision = self.model.ab_decision(name)
            variants = self.model.variants(name) if decision else None
        except CrmError as error:
            return alert(str(error))
        row = progress.iloc[0]
        last = when_html(row["last_run"]) if isinstance(row["last_run"], str) else "never"
        parts = [
            pn.pane.HTML(
                f"<div class='mk-progress'>Backlog <b>{int(row['backlog']):,}</b>"
                f" · sent <b class='mk-sent'>{int(row['sent']):,}</b>"
                f" · failed <b>{int(row['failed']):,}</b> · retrying {int(row['retrying']):,}"
                f" · unknown {int(row['unknown']):,} · rate {row['per_minute_last_10_min']:.1f}/min (last 10 min)"
                f" · last run {last} · not yet queued: {audience:,}</div>"
            )
        ]
        if decision:
            parts += [pn.pane.Markdown(html.escape(decision)), table(variants, height=120)]
        if len(failures):
            parts += [pn.pane.Markdown("**Failures and retries** (the server's reason)"), table(failures, height=200)]
        return pn.Column(*parts, sizing_mode="stretch_width")

    def __panel__(self):
        e = self.editor
        ro = self.read_only
        widgets = [
            pn.widgets.TextInput.from_param(
                e.param.campaign_name, label="Name", width=260, disabled=ro, css_classes=["mk-campaign-name"]
            ),
            self.segment_select,
        ]
        ab = pn.Row(
            pn.widgets.TextAreaInput.from_param(
                e.param.variant_subject, label="A/B: other subjects (one a line)", width=300, height=80, disabled=ro
            ),
            pn.widgets.FloatSlider.from_param(e.param.share, label="Test share", width=160, disabled=ro),
            pn.widgets.Select.from_param(e.param.metric, label="Winner by", width=110, disabled=ro),
            pn.widgets.FloatInput.from_param(e.param.wait_hours, label="Wait (hours)", width=110, disabled=ro),
        )
        editor = pn.Card(
            pn.Row(self.chooser, *widgets),
            pn.widgets.TextInput.from_param(
                e.param.subject, label="Subject", sizing_mode="stretch_width", disabled=ro, css_classes=["mk-subject"]
            ),
            pn.widgets.TextAreaInput.from_param(
                e.param.html,
                label="HTML (merge fields: {{ first_name }} …)",
                height=200,
                sizing_mode="stretch_width",
                disabled=ro,
            ),
            pn.widgets.TextAreaInput.from_param(
                e.param.text,
                label="Plain text (empty: made from the HTML)",
                height=90,
                sizing_mode="stretch_width",
                disabled=ro,
            ),
            ab,
            pn.Row(self.save_button, self.send_button),
            self.confirm,
            self.message,
            title="Write a campaign",
            sizing_mode="stretch_width",
        )
        check = lazy_card(
            lambda: [
                pn.Row(
                    self.preview_contact,
                    pn.Column(pn.Spacer(height=18), self.preview_button),
                    self.test_to,
                    pn.Column(pn.Spacer(height=18), self.test_button),
                ),
                self.preview_box,
            ],
            title="Preview and test",
            sizing_mode="stretch_width",
        )
        revision = self.model.workspace.param.revision
        return pn.Column(
            pn.bind(self._table, revision),
            editor,
            check,
            pn.Card(
                self.refresh_button,
                pn.bind(self._progress, self.chooser.param.value, revision),
                title="Sending",
                sizing_mode="stretch_width",
            ),
            sizing_mode="stretch_width",
        )
