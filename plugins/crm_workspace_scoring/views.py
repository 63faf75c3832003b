"""The Lead scores page (model card, distribution, rules editor, top leads) and the contact's score section."""

from __future__ import annotations

import html

import panel as pn
import param

from crm_workspace import Workspace
from crm_workspace.errors import CrmError
from crm_workspace.web.deferred import after_ready
from crm_workspace.web.display import BARS_CSS, bars_html, exact, html_table, label, when_html
from crm_workspace.web.list_table import ListTable, number

from . import frames
from .model import NEW, ScoringModel

READ_ONLY_TIP = "Read-only: your role lets you see scores and rules, not change them"
#: the rules table's headers, whole (each column wide enough for its title)
RULE_TITLES = {"half_life_days": "Half-life (days)", "enabled": "Enabled", "contacts": "Contacts with points"}
RULE_WIDTHS = {
    "name": 170, "kind": 100, "reads": 340, "points": 80, "cap": 70, "half_life_days": 140, "enabled": 90,
    "contacts": 170,
}  # fmt: skip
#: the top leads' order, as people say it
ORDERS = {"Rule points": "rule_points", "Model score": "model_score"}


def _notify(kind: str, message: str) -> None:
    if pn.state.notifications is not None:
        getattr(pn.state.notifications, kind)(message, duration=8000)


def score_section(workspace: Workspace, contact_id: int) -> pn.viewable.Viewable:
    """Both scores of one contact, the rule points broken down by rule, and where the model score comes from."""
    report = frames.contact_report(workspace, str(contact_id))
    points = report["rule_points"]
    head = (
        "**Rule points: not scored yet** (run `crm scoring rescore`)"
        if points is None
        else f"**Rule points: {points:g}** · scored {when_html(report['scored_at'])}"
    )
    rows = [{**r, "points": f"{r['points']:+g}"} for r in report["breakdown"]]
    breakdown = (
        html_table(
            rows, {"rule": "Rule", "kind": "Kind", "condition": "Condition", "points": "Points"}, css="score-breakdown"
        )
        if rows
        else "<p>No rule gives this contact points.</p>"
    )
    return pn.Column(
        pn.pane.Markdown(head, margin=(0, 5)),
        pn.pane.HTML(breakdown, sizing_mode="stretch_width"),
        pn.pane.Markdown(f"**Model score:** {html.escape(report['model_line'])}", margin=(0, 5)),
        sizing_mode="stretch_width",
    )


#: The distribution's bars: plain HTML in one pane. A Bokeh figure was ~30 models of the page's
#: 163 and a plot for the browser to lay out and draw, on the page's first screen.
def distribution_html(frame) -> str:
    """Contacts by rule points, in buckets of 10: a bar each, its count above it and on hover."""
    if frame.empty:
        return '<div class="crm-bars-title">Contacts by rule points</div><p>No contact has been scored yet.</p>'
    bars = [(f"{v}", int(n), None) for v, n in zip(frame["points_from"], frame["contacts"], strict=True)]
    return bars_html(bars, title="Contacts by rule points (buckets of 10)", caption="rule points from", unit="contacts")


def model_card_html(card: dict | None) -> str:
    if card is None:
        return (
            '<div class="score-model-card"><h4>No model yet</h4><p>Train one on this workspace\'s history: which leads'
            " became customers. It needs at least 50 of them.</p></div>"
        )
    top = html_table(card["top"], {"feature": "Feature", "weight": "Weight", "direction": ""}, css="score-top-features")
    facts = [
        ("Version", f"v{card['version']}"),
        ("Trained", f"{exact(card['trained_at'])} by {card['trained_by'] or '—'}"),
        ("Sample", f"{card['sample_size']:,} contacts, {card['positives']:,} became customers"),
        ("Hold-out AUC", f"{card['auc']:.2f} on {card['holdout_size']:,} contacts kept out of training"),
        ("Algorithm", f"{card['algorithm'].replace('_', ' ')} over {len(card['features'])} features"),
    ]
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in facts)
    return (
        f'<div class="score-model-card"><h4>Model v{card["version"]}</h4><table>{rows}</table>'
        f"<p><b>Strongest features</b> (weight per standard deviation)</p>{top}</div>"
    )


class ScoringPage(pn.viewable.Viewer):
    """Everything about lead scores on one page; read-only users see it without the edit controls."""

    workspace = param.ClassSelector(class_=Workspace)

    def __init__(self, **params):
        super().__init__(**params)
        self.model = model = ScoringModel(workspace=self.workspace)
        locked = bool(self.workspace.read_only)
        tip = {"description": READ_ONLY_TIP} if locked else {}
        self.message = pn.Column(sizing_mode="stretch_width")
        self.retrain = pn.widgets.Button(label="Retrain model", color="primary", disabled=locked, **tip)
        self.retrain.on_click(self._retrain)
        self.rescore = pn.widgets.Button(label="Rescore everyone", disabled=locked, **tip)
        self.rescore.on_click(self._rescore)
        self.rule = pn.widgets.Select(label="Rule", options=model.rule_choices(), value=NEW, width=260)
        self.rule.link(model, value="rule_id")
        self.save = pn.widgets.Button(label="Save rule", color="primary", disabled=locked, **tip)
        self.save.on_click(self._save)
        self.suggested = pn.widgets.Button(label="Add suggested rules", disabled=locked, **tip)
        self.suggested.on_click(self._suggested)
        fields = dict(disabled=locked, description=None)
        self.form = pn.Column(
            pn.Row(
                self.rule,
                pn.widgets.TextInput.from_param(model.param.rule_name, width=240, **fields),
                pn.widgets.Select.from_param(model.param.kind, width=140, **fields),
            ),
            pn.Row(
                pn.widgets.FloatInput.from_param(model.param.points, width=120, **fields),
                pn.widgets.FloatInput.from_param(model.param.cap, width=120, **fields),
                pn.widgets.FloatInput.from_param(
                    model.param.half_life_days, label="Half-life (days)", width=140, **fields
                ),
                pn.widgets.Checkbox.from_param(model.param.enabled, disabled=locked),
            ),
            pn.bind(self._builder, model.param.kind),
            pn.widgets.TextAreaInput.from_param(
                model.param.condition, label="Condition (JSON)", height=120, sizing_mode="stretch_width", **fields
            ),
            pn.bind(self._reads, model.param.condition, model.param.kind),
            pn.widgets.TextInput.from_param(model.param.description, sizing_mode="stretch_width", **fields),
            pn.Row(self.save, self.suggested),
            sizing_mode="stretch_width",
        )

    def _builder(self, kind):
        """One test picked from lists, written into the JSON below by "Use this test" (no JSON typing needed)."""
        m, locked = self.model, bool(self.workspace.read_only)
        use = pn.widgets.Button(label="Use this test", disabled=locked)
        use.on_click(lambda _event: m.build())
        if kind == "engagement":
            widgets = [
                pn.widgets.Select.from_param(m.param.b_count, width=170, disabled=locked),
                pn.widgets.TextInput.from_param(m.param.b_kind, width=240, disabled=locked),
                pn.widgets.IntInput.from_param(m.param.b_days, width=120, disabled=locked),
            ]
        else:
            widgets = [
                pn.widgets.Select.from_param(m.param.b_field, width=220, disabled=locked),
                pn.widgets.Select.from_param(m.param.b_op, width=140, disabled=locked),
                pn.widgets.TextInput.from_param(m.param.b_value, width=260, disabled=locked),
            ]
        return pn.Row(*widgets, pn.Column(pn.Spacer(height=18), use))

    # ------------------------------------------------------------- actions
    def _say(self, text: str, kind: str) -> None:
        self.message[:] = [pn.pane.Alert(html.escape(text), alert_type=kind)]
        _notify("error" if kind == "danger" else "success", text)

    def _act(self, action, done) -> None:
        try:
            result = action()
        except CrmError as error:
            self._say(str(error), "danger")
            return
        self._say(done(result), "success")
        self.rule.options = self.model.rule_choices()
        self.workspace.changed()

    def _retrain(self, _event=None) -> None:
        self._act(
            self.model.retrain,
            lambda row: f"Model v{row['version']} trained on {row['sample_size']:,} contacts, AUC {row['auc']:.2f}.",
        )

    def _rescore(self, _event=None) -> None:
        self._act(self.model.rescore, lambda n: f"Rescored {n:,} contacts.")

    def _save(self, _event=None) -> None:
        self._act(self.model.save, lambda row: f"Saved rule “{row['name']}”; every contact was rescored.")
        self.rule.value = self.model.rule_id

    def _suggested(self, _event=None) -> None:
        self._act(
            self.model.add_suggested, lambda n: f"Added {n} suggested rules." if n else "All suggested rules exist."
        )

    # ------------------------------------------------------------- sections
    def _reads(self, condition, kind):
        text = self.model.reads() or f"Example: {self.model.example()}"
        return pn.pane.Markdown(html.escape(text), margin=(0, 10))

    def _guard(self, build):
        def render(*_args):
            try:
                return build()
            except CrmError as error:
                return pn.pane.Alert(html.escape(str(error)), alert_type="danger")

        return render

    def _summary(self):
        s = self.model.summary()
        run = when_html(s["as_of"]) or "never"
        took = f" in {s['seconds']:.1f} s" if s["seconds"] is not None else ""
        queued = f" · {s['queued']:,} waiting for the next tick" if s["queued"] else ""
        return pn.pane.Markdown(
            f"{s['scored']:,} of {s['contacts']:,} contacts scored (everyone rescored {run}{took}"
            f"{queued}) · **{s['hot']:,} hot leads** ({s['hot_points']:g}+ rule points)"
        )

    def _card(self):
        return pn.pane.HTML(model_card_html(self.model.model_card()), sizing_mode="stretch_width")

    def _distribution(self):
        return pn.pane.HTML(
            distribution_html(self.model.distribution()), stylesheets=[BARS_CSS], sizing_mode="stretch_width"
        )

    def _rules(self):
        frame = self.model.rules_frame()[
            ["name", "kind", "reads", "points", "cap", "half_life_days", "enabled", "contacts"]
        ]
        frame = frame.assign(
            kind=[label(v) for v in frame["kind"]], enabled=["Yes" if v else "No" for v in frame["enabled"]]
        )
        return ListTable(
            frame,
            sizing_mode="stretch_width",
            height=280,
            widths=RULE_WIDTHS,
            titles={**{c: label(c) for c in frame.columns}, **RULE_TITLES},
            formatters={c: number(1) for c in ("points", "cap", "half_life_days", "contacts")},
        )

    def _leads(self, _order=None):
        frame = self.model.leads()
        frame = frame.assign(
            lifecycle_stage=[label(v) for v in frame["lifecycle_stage"]],
            updated_at=[when_html(v) for v in frame["updated_at"]],
        )
        return ListTable(
            frame,
            sizing_mode="stretch_width",
            height=420,
            titles={**{c: label(c) for c in frame.columns}, "contact_id": "Id", "updated_at": "Score changed"},
            formatters={
                "updated_at": "html",
                "rule_points": number(grouped=False),
                "model_score": number(grouped=False),
            },
        )

    def __panel__(self):
        rev = self.workspace.param.revision
        return pn.Column(
            "## Lead scores",
            pn.bind(self._guard(self._summary), rev),
            self.message,
            pn.Row(
                pn.Column(
                    "### Model", pn.bind(self._guard(self._card), rev), pn.Row(self.retrain, self.rescore), width=520
                ),
                pn.Column(
                    "### Distribution", pn.bind(self._guard(self._distribution), rev), sizing_mode="stretch_width"
                ),
                sizing_mode="stretch_width",
            ),
            "### Rules",
            pn.bind(self._guard(self._rules), rev),
            # below the first screen: built once the page is shown (crm_workspace/web/deferred.py)
            after_ready(
                lambda: pn.Card(self.form, title="Add or edit a rule", collapsed=False, sizing_mode="stretch_width"),
                min_height=420,
                sizing_mode="stretch_width",
            ),
            "### Top leads",
            pn.widgets.RadioButtonGroup.from_param(self.model.param.order, options=ORDERS),
            after_ready(
                lambda: pn.panel(pn.bind(self._guard(self._leads), rev, self.model.param.order)),
                min_height=420,
                sizing_mode="stretch_width",
            ),
            sizing_mode="stretch_width",
        )
