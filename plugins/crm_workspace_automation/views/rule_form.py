"""The rule form: a table, a trigger, rows of conditions and of actions, edited without code."""

from __future__ import annotations

from typing import Any

import panel as pn
import param

from crm_workspace.errors import CrmError, ValidationError

from ..actions import TYPES
from ..conditions import NO_ACTIVITY, OPS
from ..model import RuleDraft, parse_value
from .common import READ_ONLY_TIP, alert

#: what the two free inputs of an action row mean, per action type
ACTION_INPUTS = {
    "create_task": ("subject", "due_days"),
    "set_field": ("field", "value"),
    "add_tag": ("tag", None),
    "send_email": ("to", "subject"),
    "webhook": ("subscription", "event"),
}
ACTION_HELP = (
    "Action inputs: create task → subject, due in days · set field → field, value · add tag → tag · "
    "send e-mail → to (owner or an address), subject · webhook → subscription #, event name. "
    "Text may use {{ field }} of the record."
)


_INPUT_WORDS = {
    "subject": "subject",
    "due_days": "due in days",
    "field": "field",
    "value": "value",
    "tag": "tag",
    "to": "to (owner or an address)",
    "subscription": "subscription #",
    "event": "event name",
}


def _inputs_hint(kind: str) -> str:
    """What the two inputs of an action row mean for its type, as the row shows it."""
    first, second = ACTION_INPUTS[kind]
    return f"Input 1: {_INPUT_WORDS[first]}" + (f" · Input 2: {_INPUT_WORDS[second]}" if second else "")


class ConditionRow(param.Parameterized):
    field = param.Selector(default=None, objects=[], allow_None=True)
    op = param.Selector(default="equals", objects=[*OPS, NO_ACTIVITY])
    value = param.String(default="")

    def as_dict(self) -> dict[str, Any]:
        if self.op == NO_ACTIVITY:
            return {"op": self.op, "value": parse_value(self.value)}
        found = {"field": self.field, "op": self.op}
        if self.op not in ("is empty", "is not empty"):
            found["value"] = parse_value(self.value) if self.op in (">", "<", "in") else self.value
        return found


class ActionRow(param.Parameterized):
    type = param.Selector(default="create_task", objects=list(TYPES))
    first = param.String(default="")
    second = param.String(default="")

    def as_dict(self) -> dict[str, Any]:
        first, second = ACTION_INPUTS[self.type]
        found: dict[str, Any] = {"type": self.type, first: self.first}
        if self.type == "webhook":
            found["subscription"] = parse_value(self.first)
        if second and self.second.strip():
            found[second] = parse_value(self.second) if second in ("due_days", "value") else self.second
        return found


class RuleForm(pn.viewable.Viewer):
    """Add or edit one rule; ``saved`` counts saves so the page refreshes its lists."""

    draft = param.ClassSelector(class_=RuleDraft)
    saved = param.Integer(default=0)

    def __init__(self, **params):
        super().__init__(**params)
        self.conditions: list[ConditionRow] = []
        self.actions: list[ActionRow] = []
        self._conditions = pn.Column(sizing_mode="stretch_width")
        self._actions = pn.Column(sizing_mode="stretch_width")
        self._message = pn.Column(sizing_mode="stretch_width")
        disabled = self.draft.workspace.read_only
        tip = READ_ONLY_TIP if disabled else None
        self._add_condition = pn.widgets.Button(label="+ Condition", disabled=disabled, description=tip)
        self._add_condition.on_click(lambda _e: self.add_condition())
        self._add_action = pn.widgets.Button(label="+ Action", disabled=disabled, description=tip)
        self._add_action.on_click(lambda _e: self.add_action())
        self._save = pn.widgets.Button(label="Save rule", color="primary", disabled=disabled, description=tip)
        self._save.on_click(lambda _e: self.save())
        self._new = pn.widgets.Button(label="New rule", disabled=disabled)
        self._new.on_click(lambda _e: self.fill_from_draft(reset=True))
        self.fill_from_draft()

    @param.depends("draft.table", watch=True)
    def _table_changed(self) -> None:
        fields = self.draft.fields()
        for row in self.conditions:
            row.param.field.objects = fields
            if row.field not in fields:
                row.field = fields[0] if fields else None

    def add_condition(self, condition: dict | None = None) -> ConditionRow:
        fields = self.draft.fields()
        row = ConditionRow()
        row.param.field.objects = fields
        condition = condition or {}
        from ..conditions import op_of

        op = op_of(condition) if condition else "equals"
        value = condition.get("value", "")
        row.param.update(
            field=condition.get("field") if condition.get("field") in fields else (fields[0] if fields else None),
            op=op if op in row.param.op.objects else "equals",
            value=", ".join(map(str, value)) if isinstance(value, list) else str(value),
        )
        self.conditions.append(row)
        remove = pn.widgets.Button(label="✕", width=40, description="Remove this condition")
        layout = pn.Row(
            pn.widgets.Select.from_param(row.param.field, label="Field", width=170),
            pn.widgets.Select.from_param(row.param.op, label="Condition", width=170),
            pn.widgets.TextInput.from_param(row.param.value, label="Value", width=220),
            remove,
        )

        def drop(_event):
            self.conditions.remove(row)
            self._conditions.remove(layout)

        remove.on_click(drop)
        self._conditions.append(layout)
        return row

    def add_action(self, action: dict | None = None) -> ActionRow:
        row = ActionRow()
        action = action or {}
        kind = action.get("type") if action.get("type") in TYPES else "create_task"
        first, second = ACTION_INPUTS[kind]
        row.param.update(
            type=kind,
            first=str(action.get(first, "")),
            second="" if not second or action.get(second) is None else str(action.get(second)),
        )
        self.actions.append(row)
        remove = pn.widgets.Button(label="✕", width=40, description="Remove this action")
        layout = pn.Row(
            pn.widgets.Select.from_param(row.param.type, label="Action", width=170),
            pn.widgets.TextInput.from_param(row.param.first, label="Input 1", width=260),
            pn.widgets.TextInput.from_param(row.param.second, label="Input 2", width=150),
            remove,
            pn.pane.Markdown(pn.bind(_inputs_hint, row.param.type), styles={"font-size": "12px", "color": "#555"}),
        )

        def drop(_event):
            self.actions.remove(row)
            self._actions.remove(layout)

        remove.on_click(drop)
        self._actions.append(layout)
        return row

    def fill_from_draft(self, reset: bool = False) -> None:
        if reset:
            self.draft.reset()
        self.conditions, self.actions = [], []
        self._conditions.clear()
        self._actions.clear()
        for condition in self.draft.conditions:
            self.add_condition(condition)
        for action in self.draft.actions:
            self.add_action(action)
        self._message.clear()

    def save(self) -> dict | None:
        self.draft.conditions = [row.as_dict() for row in self.conditions]
        self.draft.actions = [row.as_dict() for row in self.actions]
        try:
            rule = self.draft.save()
        except ValidationError as error:
            problems = "; ".join(f"{k}: {v}" for k, v in error.errors.items())
            self._message[:] = [alert(f"Not saved: {problems}", "danger")]
            return None
        except CrmError as error:
            self._message[:] = [alert(f"Not saved: {error}", "danger")]
            return None
        self.fill_from_draft()
        self._message[:] = [alert(f"Saved rule #{rule['id']}: {rule['name']}", "success")]
        self.saved += 1
        return rule

    def __panel__(self) -> pn.viewable.Viewable:
        d = self.draft
        return pn.Column(
            pn.Row(
                pn.widgets.TextInput.from_param(d.param.rule_name, label="Rule name", width=300),
                pn.widgets.Select.from_param(d.param.table, label="Table", width=160),
                pn.widgets.Select.from_param(d.param.when, label="When", width=140),
            ),
            "**If all of these hold** (*changed to* needs a create or update trigger; *no activity for days* a time one)",
            self._conditions,
            self._add_condition,
            "**Then do**",
            pn.pane.Markdown(ACTION_HELP, styles={"font-size": "12px", "color": "#555"}),
            self._actions,
            self._add_action,
            pn.Row(self._save, self._new),
            self._message,
            sizing_mode="stretch_width",
        )
