"""The Automation page: rules (list, enable/disable, edit, run log) and webhooks (notices, log, replay)."""

from __future__ import annotations

import html

import panel as pn
import param

from crm_workspace import Workspace
from crm_workspace.errors import CrmError
from crm_workspace.web.deferred import lazy_tabs

from .. import model, rules, webhooks
from ..access import is_admin
from ..events import DOMAIN_EVENTS
from .common import READ_ONLY_TIP, alert, notify, table
from .rule_form import RuleForm

RULE_COLUMNS = {
    "id": "#",
    "name": "Rule",
    "table_name": "Table",
    "trigger": "When",
    "conditions": "If",
    "actions": "Then",
    "state": "State",
    "runs": "Runs",
    "failed": "Failed",
    "notice": "Notice",
}
RUN_COLUMNS = {
    "at": "At",
    "name": "Rule",
    "table_name": "Table",
    "record_id": "Record",
    "status": "Status",
    "detail": "Detail",
}
SUB_COLUMNS = {
    "id": "#",
    "url": "URL",
    "events": "Events",
    "state": "State",
    "failures": "Failures in a row",
    "delivered": "Delivered",
    "waiting": "Waiting",
    "failed": "Failed",
    "notice": "Notice",
}
DELIVERY_COLUMNS = {
    "id": "#",
    "subscription_id": "Subscription",
    "event": "Event",
    "status": "Status",
    "attempts": "Attempts",
    "last_status_code": "HTTP",
    "last_error": "Last error",
    "next_attempt_at": "Next attempt",
    "delivered_at": "Delivered",
    "event_id": "Event id",
}


class AutomationPage(pn.viewable.Viewer):
    workspace = param.ClassSelector(class_=Workspace)
    rule_choice = param.Integer(default=None, allow_None=True, label="Rule #")
    delivery_choice = param.Integer(default=None, allow_None=True, label="Delivery #")
    new_url = param.String(default="", label="Receiver URL (https://...)")
    new_events = param.ListSelector(default=[], objects=[], label="Events")
    refreshed = param.Integer(default=0)

    def __init__(self, **params):
        super().__init__(**params)
        ws = self.workspace
        self.read_only = ws.read_only
        self.admin = not self.read_only and is_admin(ws)
        self.draft = model.RuleDraft(workspace=ws)
        self.form = RuleForm(draft=self.draft)
        self.form.param.watch(lambda _e: self._refresh(), "saved")
        self.param.new_events.objects = ["*", *webhooks.known_events(ws)]
        tip = READ_ONLY_TIP if self.read_only else None
        self._secret = pn.Column(sizing_mode="stretch_width")
        self._buttons = {}
        for label, action in (
            ("Edit", self._edit),
            ("Enable", lambda: self._rule_enabled(True)),
            ("Disable", lambda: self._rule_enabled(False)),
            ("Run time rules now", self._run_time_rules),
        ):
            button = pn.widgets.Button(label=label, disabled=self.read_only, description=tip)
            button.on_click(lambda _e, action=action: action())
            self._buttons[label] = button
        admin_tip = None if self.admin else "Only an admin manages webhooks"
        for label, action in (("Replay", self._replay), ("Subscribe", self._subscribe)):
            button = pn.widgets.Button(label=label, disabled=not self.admin, description=admin_tip)
            button.on_click(lambda _e, action=action: action())
            self._buttons[label] = button

    # ------------------------------------------------------------- actions
    def _refresh(self) -> None:
        self.refreshed += 1

    def _guarded(self, action, done: str | None = None) -> None:
        try:
            result = action()
        except CrmError as error:
            notify("error", str(error))
            return
        if done:
            notify("success", done.format(result=result))
        self.workspace.changed()
        self._refresh()

    def _edit(self) -> None:
        if self.rule_choice is None:
            return
        try:
            self.draft.load(self.rule_choice)
        except CrmError as error:
            notify("error", str(error))
            return
        self.form.fill_from_draft()

    def _rule_enabled(self, enabled: bool) -> None:
        if self.rule_choice is not None:
            word = "enabled" if enabled else "disabled"
            self._guarded(lambda: rules.set_enabled(self.workspace, self.rule_choice, enabled), f"Rule {word}")

    def _run_time_rules(self) -> None:
        self._guarded(lambda: rules.run_time_rules(self.workspace), "Time rules: {result}")

    def _replay(self) -> None:
        if self.delivery_choice is not None:
            self._guarded(
                lambda: webhooks.replay(self.workspace, self.delivery_choice, now=False),
                "Queued again; it goes out within seconds",
            )

    def _subscribe(self) -> None:
        try:
            sub = webhooks.subscribe(self.workspace, self.new_url, list(self.new_events))
        except CrmError as error:
            self._secret[:] = [alert(f"Not subscribed: {error}", "danger")]
            return
        self._secret[:] = [
            alert(f"Subscribed #{sub['id']}. Signing secret (shown once, keep it now):", "success"),
            pn.widgets.TextInput(value=sub["secret"], label="Signing secret", width=420),
        ]
        self.new_url = ""
        self._refresh()

    # --------------------------------------------------------------- parts
    def _rules_list(self, *_deps):
        rows = model.rule_rows(self.workspace)
        notices = [
            alert(f"Rule #{r['id']} {r['name']}: {r['notice']}")
            for r in rows
            if r["notice"] and r["state"] != "enabled"
        ]
        return pn.Column(*notices, pn.pane.HTML(table(rows, RULE_COLUMNS, "auto-rules"), sizing_mode="stretch_width"))

    def _runs(self, *_deps):
        return pn.pane.HTML(
            table(rules.runs(self.workspace, limit=30), RUN_COLUMNS, "auto-runs"), sizing_mode="stretch_width"
        )

    def _subscriptions(self, *_deps):
        rows = webhooks.subscriptions(self.workspace)
        notices = [
            alert(f"Webhook #{r['id']} to {r['url']} is disabled: {r['notice']}")
            for r in rows
            if r["state"] != "enabled"
        ]
        return pn.Column(*notices, pn.pane.HTML(table(rows, SUB_COLUMNS, "auto-subs"), sizing_mode="stretch_width"))

    def _deliveries(self, *_deps):
        rows = webhooks.deliveries(self.workspace, limit=50)
        return pn.pane.HTML(table(rows, DELIVERY_COLUMNS, "auto-deliveries"), sizing_mode="stretch_width")

    def _rules_tab(self) -> pn.viewable.Viewable:
        deps = (self.workspace.param.revision, self.param.refreshed)
        b = self._buttons
        return pn.Column(
            pn.bind(self._rules_list, *deps),
            pn.Row(
                pn.widgets.IntInput.from_param(self.param.rule_choice, width=110),
                b["Edit"],
                b["Enable"],
                b["Disable"],
                b["Run time rules now"],
            ),
            pn.Card(self.form, title="Add or edit a rule", sizing_mode="stretch_width"),
            "### Run log",
            pn.bind(self._runs, *deps),
            sizing_mode="stretch_width",
            name="Workflow rules",
        )

    def _webhooks_tab(self) -> pn.viewable.Viewable:
        deps = (self.workspace.param.revision, self.param.refreshed)
        b = self._buttons
        events_help = ", ".join(f"{name} ({what})" for name, what in DOMAIN_EVENTS.items())
        subscribe = pn.Card(
            pn.widgets.TextInput.from_param(self.param.new_url, width=420, disabled=not self.admin),
            pn.widgets.MultiChoice.from_param(self.param.new_events, width=420, disabled=not self.admin),
            pn.pane.Markdown(
                f"Domain events: {html.escape(events_help)}; `*` is every event. Deliveries are signed: "
                "see docs/webhooks.md.",
                styles={"font-size": "12px"},
            ),
            b["Subscribe"],
            self._secret,
            title="Subscribe a URL (admins)",
            collapsed=not self.admin,
            sizing_mode="stretch_width",
        )
        return pn.Column(
            pn.bind(self._subscriptions, *deps),
            subscribe,
            "### Delivery log",
            pn.Row(pn.widgets.IntInput.from_param(self.param.delivery_choice, width=130), b["Replay"]),
            pn.bind(self._deliveries, *deps),
            sizing_mode="stretch_width",
            name="Webhooks",
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            "## Automation",
            # the webhooks tab is built on its first visit (crm_workspace/web/deferred.py)
            lazy_tabs(
                ("Workflow rules", self._rules_tab), ("Webhooks", self._webhooks_tab), sizing_mode="stretch_width"
            ),
            sizing_mode="stretch_width",
        )
