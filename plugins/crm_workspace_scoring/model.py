"""The Lead scores page's state over the store (no widgets): the rule being edited, the model card."""

from __future__ import annotations

import json

import pandas as pd
import param

from crm_workspace import Workspace

from . import conditions, engine, frames, learn, rules

NEW = 0  # the rule id of "a new rule"


class ScoringModel(param.Parameterized):
    """The rule form's fields as params, and every number the page shows as a DataFrame or dict."""

    workspace = param.ClassSelector(class_=Workspace)
    rule_id = param.Integer(default=NEW, doc="The rule being edited (0: a new one).")
    rule_name = param.String(default="", label="Name", doc="The rule's name, shown in every breakdown.")
    kind = param.Selector(default="fit", objects=list(rules.KINDS), doc="fit: who they are; engagement: what they do.")
    condition = param.String(default="", doc="The condition as JSON (see the examples).")
    points = param.Number(default=5.0, doc="Points per match (fit) or per event (engagement); negative subtracts.")
    cap = param.Number(default=None, allow_None=True, doc="Engagement: the most points this rule gives one contact.")
    half_life_days = param.Number(
        default=None, allow_None=True, doc="Engagement: an event's points halve every N days."
    )
    enabled = param.Boolean(default=True, doc="Disabled rules give no points.")
    description = param.String(default="")
    # the condition builder: one test, written into ``condition`` as JSON by ``build``
    b_field = param.Selector(default="title", objects=["title"], label="Field")
    b_op = param.Selector(default="contains", objects=list(conditions.OPS), label="Test")
    b_value = param.String(default="", label="Value (a list: comma-separated)")
    b_count = param.Selector(default="activities", objects=list(conditions.SOURCES), label="Count")
    b_kind = param.String(default="email", label="Of kind (e.g. email, meeting, click)")
    b_days = param.Integer(default=30, bounds=(1, 3650), label="Within days")
    order = param.Selector(default="rule_points", objects=["rule_points", "model_score"], doc="Rank leads by.")
    _version = param.Integer(default=None, allow_None=True, precedence=-1)

    def __init__(self, **params):
        super().__init__(**params)
        store = self.workspace.store
        fields = [*store.columns("contacts"), *(f"organization.{c}" for c in store.columns("organizations"))]
        self.param.b_field.objects = [f for f in fields if f not in ("id", "version", "updated_by")]
        if self.rule_id != NEW:
            self._load()

    # ------------------------------------------------------------- reads
    def rule_choices(self) -> dict[str, int]:
        found = {"New rule…": NEW}
        for row in self.workspace.query("SELECT id, name, enabled FROM score_rules ORDER BY kind DESC, id"):
            found[row["name"] + ("" if row["enabled"] else " (disabled)")] = row["id"]
        return found

    def rules_frame(self) -> pd.DataFrame:
        return frames.rules(self.workspace)

    def distribution(self) -> pd.DataFrame:
        return frames.distribution(self.workspace)

    def leads(self, limit: int = 20) -> pd.DataFrame:
        return frames.scores(self.workspace, limit=limit, order=self.order)

    def model_card(self) -> dict | None:
        model = engine.active_model(self.workspace.store)
        if not model:
            return None
        return {**model, "top": learn.top_features(model)}

    def summary(self) -> dict:
        store = self.workspace.store
        return {
            "scored": store.scalar("SELECT count(*) FROM lead_scores") or 0,
            "contacts": store.scalar("SELECT count(*) FROM contacts") or 0,
            "as_of": engine.last_run(store),
            "seconds": store.scalar("SELECT seconds FROM score_runs ORDER BY id DESC LIMIT 1"),
            "queued": store.scalar("SELECT count(*) FROM score_dirty") or 0,
            "hot": store.scalar(frames.hot_leads_sql(self.workspace)) or 0,
            "hot_points": frames.hot_points(self.workspace),
        }

    # ------------------------------------------------------------- the form
    @param.depends("rule_id", watch=True)
    def _load(self) -> None:
        if self.rule_id == NEW:
            self.param.update(
                rule_name="", kind="fit", condition="", points=5.0, cap=None, half_life_days=None,
                enabled=True, description="", _version=None,
            )  # fmt: skip
            return
        row = self.workspace.store.get("score_rules", self.rule_id)
        self.param.update(
            rule_name=row["name"],
            kind=row["kind"],
            condition=json.dumps(json.loads(row["condition"]), indent=1),
            points=row["points"],
            cap=row["cap"],
            half_life_days=row["half_life_days"],
            enabled=bool(row["enabled"]),
            description=row["description"] or "",
            _version=row["version"],
        )

    def example(self) -> str:
        if self.kind == "fit":
            return json.dumps({"field": "title", "op": "contains", "value": "Director"})
        return json.dumps({"count": "activities", "kind": "email", "within_days": 30})

    def reads(self) -> str:
        """What the condition in the form means, or why it cannot be used."""
        if not self.condition.strip():
            return ""
        problem = conditions.check(self.workspace.store, self.kind, self.condition)
        return f"⚠ {problem}" if problem else conditions.describe(self.kind, self.condition)

    def build(self) -> str:
        """Write the builder's test into ``condition`` (JSON) and return it."""
        if self.kind == "engagement":
            node = {"count": self.b_count, "kind": self.b_kind.strip(), "within_days": self.b_days}
            if not node["kind"]:
                del node["kind"]
        else:
            node = {"field": self.b_field, "op": self.b_op}
            if self.b_op in ("in", "not_in"):
                node["value"] = [v.strip() for v in self.b_value.split(",") if v.strip()]
            elif self.b_op in conditions.NUMBER_OPS:
                try:
                    node["value"] = float(self.b_value)
                except ValueError:
                    node["value"] = self.b_value
            elif self.b_op not in conditions.PRESENCE_OPS:
                node["value"] = self.b_value
        self.condition = json.dumps(node)
        return self.condition

    def save(self) -> dict:
        values = {
            "name": self.rule_name,
            "kind": self.kind,
            "condition": self.condition,
            "points": self.points,
            "cap": self.cap if self.kind == "engagement" else None,
            "half_life_days": self.half_life_days if self.kind == "engagement" else None,
            "enabled": 1 if self.enabled else 0,
            "description": self.description,
        }
        saved = rules.save(self.workspace, values, None if self.rule_id == NEW else self.rule_id, self._version)
        self.rule_id = saved["id"]
        self._version = saved["version"]
        return saved

    def add_suggested(self) -> int:
        return rules.add_suggested(self.workspace)

    def retrain(self) -> dict:
        return learn.train(self.workspace)

    def rescore(self) -> int:
        return engine.rescore_all(self.workspace)
