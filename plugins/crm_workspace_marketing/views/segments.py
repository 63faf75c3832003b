"""The Segments tab: the segment list, the filter builder with its live count and SQL, static lists."""

from __future__ import annotations

import html

import panel as pn
import param

from crm_workspace import CrmError
from crm_workspace.web.deferred import lazy_card
from crm_workspace.web.list_table import ListTable

from ..fields import choice_labels
from ..filters import describe
from ..model import Condition, ConditionGroup, Kept, MarketingModel, SegmentBuilder
from .common import alert, button, label, say, table

#: the columns of the people picked into a static list
PICKED = ("id", "first_name", "last_name", "email", "lifecycle_stage", "organization")


class ConditionEditor(pn.viewable.Viewer):
    """One condition: field, operator, value (widgets bound to the condition's params)."""

    def __init__(self, builder: SegmentBuilder, condition: Condition, read_only: bool, **params):
        super().__init__(**params)
        self.builder, self.condition = builder, condition
        self.field = pn.widgets.Select.from_param(
            condition.param.field,
            options=builder.field_options(),
            label="",
            width=230,
            disabled=read_only,
            css_classes=["mk-field"],
        )
        self.op = pn.widgets.Select.from_param(
            condition.param.op,
            options=builder.ops_for(condition.field),
            label="",
            width=190,
            disabled=read_only,
            css_classes=["mk-op"],
        )
        # a stage reads "Marketing qualified" in the box and is stored as "marketing_qualified"
        self.value = pn.widgets.TextInput(
            value=self._shown(condition.value),
            width=280,
            disabled=read_only,
            placeholder=self._hint(),
            css_classes=["mk-value"],
        )
        self.remove = pn.widgets.Button(label="✕", width=40, disabled=read_only, description="Remove this condition")
        self.remove.on_click(lambda _event: builder.remove(condition))
        condition.param.watch(self._field_changed, "field")
        self.value.param.watch(self._typed, "value")
        condition.param.watch(self._stored, "value")

    def _labels(self) -> dict[str, str]:
        return choice_labels(self.builder.field(self.condition.field))

    def _shown(self, stored: str) -> str:
        """The stored codes as the labels people read ("lead, marketing_qualified" -> "Lead, Marketing qualified")."""
        labels = self._labels()
        if not labels:
            return stored
        return ", ".join(labels.get(v.strip(), v.strip()) for v in stored.split(",") if v.strip())

    def _codes(self, typed: str) -> str:
        """What was typed, labels or codes, as the codes to store; anything else as typed."""
        codes = {k.lower(): code for code, name in self._labels().items() for k in (code, name)}
        if not codes:
            return typed
        return ", ".join(codes.get(v.strip().lower(), v.strip()) for v in typed.split(",") if v.strip())

    def _typed(self, event) -> None:
        self.condition.value = self._codes(event.new)

    def _stored(self, event) -> None:
        self.value.value = self._shown(event.new)

    def _hint(self) -> str:
        found = self.builder.field(self.condition.field)
        if found is None:
            return ""
        if found.choices:
            shown = [choice_labels(found).get(c, c) for c in found.choices]
            return ", ".join(shown[:6]) + (" …" if len(shown) > 6 else "")
        return {"date": "2026-01-31, or a number of days", "number": "a number (a .. b for between)"}.get(
            found.kind, "text"
        )

    def _field_changed(self, _event) -> None:
        ops = self.builder.ops_for(self.condition.field)
        self.op.options = ops
        if self.condition.op not in ops.values():
            self.condition.op = next(iter(ops.values()))
        self.value.placeholder = self._hint()
        self.value.value = self._shown(self.condition.value)

    def __panel__(self):
        return pn.Row(self.field, self.op, self.value, self.remove, css_classes=["mk-condition"])


class GroupEditor(pn.viewable.Viewer):
    """A group inside the segment: all/any of its own conditions, which are edited like the top ones."""

    def __init__(self, builder: SegmentBuilder, group: ConditionGroup, read_only: bool, **params):
        super().__init__(**params)
        self.builder, self.group, self.read_only = builder, group, read_only
        self.match = pn.widgets.RadioButtonGroup.from_param(
            group.param.match, width=120, disabled=read_only, css_classes=["mk-group-match"]
        )
        self.add = pn.widgets.Button(label="+ Condition in this group", width=200, disabled=read_only)
        self.add.on_click(lambda _event: builder.add(group=group))
        self.remove = pn.widgets.Button(label="Remove group", width=130, disabled=read_only)
        self.remove.on_click(lambda _event: builder.remove(group))

    def _items(self, items):
        return pn.Column(*[editor(self.builder, item, self.read_only) for item in items], margin=(0, 0, 0, 20))

    def __panel__(self):
        return pn.Column(
            pn.Row(
                pn.pane.Markdown("**Group:** match", margin=(8, 5)), self.match, pn.pane.Markdown("of", margin=(8, 5))
            ),
            pn.bind(self._items, self.group.param.conditions),
            pn.Row(self.add, self.remove),
            css_classes=["mk-group"],
            styles={"border-left": "3px solid #9ab", "padding-left": "6px"},
        )


def editor(builder: SegmentBuilder, item, read_only: bool):
    """The editor of one item of the filter: a condition, a group, or a deeper part kept as saved."""
    if isinstance(item, ConditionGroup):
        return GroupEditor(builder, item, read_only)
    if isinstance(item, Kept):
        remove = pn.widgets.Button(label="✕", width=40, disabled=read_only, description="Remove this group")
        remove.on_click(lambda _event: builder.remove(item))
        words = html.escape(describe(builder.workspace, {"match": "all", "conditions": [item.value]}))
        text = pn.pane.HTML(f"<i>{words}</i> (nested deeper: edit it in a notebook; kept as saved)")
        return pn.Row(text, remove, css_classes=["mk-kept"])
    return ConditionEditor(builder, item, read_only)


class SegmentsTab(pn.viewable.Viewer):
    model = param.ClassSelector(class_=MarketingModel)

    def __init__(self, **params):
        super().__init__(**params)
        ws = self.model.workspace
        self.read_only = ws.read_only
        self.builder = SegmentBuilder(workspace=ws)
        if not self.builder.conditions:
            self.builder.add("lifecycle_stage", "in", "lead, marketing_qualified")
        self.message = pn.Column()
        self.list_message = pn.Column()
        self.editing = pn.widgets.Select(label="Edit a saved segment", options=[""], width=260)
        self.editing.param.watch(self._load, "value")
        self.new_button = pn.widgets.Button(label="New segment", width=130)
        self.new_button.on_click(lambda _e: self.builder.new())
        self.add_button = pn.widgets.Button(label="+ Condition", width=130, disabled=self.read_only)
        self.add_button.on_click(lambda _e: self.builder.add())
        self.group_button = pn.widgets.Button(label="+ Group", width=130, disabled=self.read_only)
        self.group_button.on_click(lambda _e: self.builder.add_group())
        self.save_button = button("Save segment", self.read_only, width=160)
        self.save_button.on_click(self._save)
        self.list_name = pn.widgets.Select(label="Static list", options=[], width=260)
        self.new_list = pn.widgets.TextInput(label="…or a new list named", width=260, disabled=self.read_only)
        self.emails = pn.widgets.TextAreaInput(
            label="Paste e-mail addresses (one per line, or separated by commas)",
            height=120,
            width=560,
            disabled=self.read_only,
        )
        self.add_emails = button("Add to the list", self.read_only, width=160)
        self.add_emails.on_click(self._add_emails)
        self.pick_from = pn.widgets.Select(label="…or pick people from segment", options=[""], width=260)
        self.picker = ListTable(
            None,
            selectable=True,
            height=220,
            sizing_mode="stretch_width",
            visible=False,
            titles={c: label(c) for c in PICKED},  # headers (and a phone card's labels) in words
        )
        self.pick_from.param.watch(self._pick_from, "value")
        self.batch = pn.widgets.Select(
            label="…or everyone an import created or updated", options={}, width=420, css_classes=["mk-batch"]
        )
        self.add_batch = button("Add the import's contacts", self.read_only, width=220)
        self.add_batch.on_click(self._add_batch)
        self.add_selected = button("Add the selected to the list", self.read_only, width=220)
        self.add_selected.on_click(self._add_selected)
        self._refresh_names()

    def _add_batch(self, _event=None) -> None:
        try:
            name = self.new_list.value.strip() or self.list_name.value
            if not name:
                raise CrmError("choose a list or name a new one")
            if not self.batch.value:
                raise CrmError("choose an import")
            if self.new_list.value.strip():
                self.model.create_list(name)
            result = self.model.add_import(name, self.batch.value)
        except CrmError as error:
            say(self.list_message, str(error), "danger")
            return
        say(
            self.list_message,
            f"Added {result['added']:,} of the import's {result['contacts']:,} contacts to '{name}'"
            f" ({result['already']:,} were on it already).",
        )
        self.new_list.value = ""
        self._refresh_names()

    def _refresh_names(self) -> None:
        self.batch.options = {"": "", **self.model.import_batches()}
        self.editing.options = ["", *self.model.segment_names("dynamic")]
        self.list_name.options = self.model.segment_names("static")
        self.pick_from.options = ["", *self.model.segment_names()]

    def _pick_from(self, event) -> None:
        if not event.new:
            self.picker.visible = False
            return
        frame = self.model.member_sample(event.new)
        stages = [label(v) if isinstance(v, str) else "" for v in frame["lifecycle_stage"]]  # a label, not a code
        self.picker.value = frame[list(PICKED)].assign(lifecycle_stage=stages)
        self.picker.visible = True

    def _add_selected(self, _event=None) -> None:
        chosen = self.picker.selected_dataframe
        try:
            name = self.new_list.value.strip() or self.list_name.value
            if not name:
                raise CrmError("choose a list or name a new one")
            if chosen is None or not len(chosen):
                raise CrmError("select people in the table first")
            if self.new_list.value.strip():
                self.model.create_list(name)
            added = self.model.add_selection(name, [int(i) for i in chosen["id"]])
        except CrmError as error:
            say(self.list_message, str(error), "danger")
            return
        say(self.list_message, f"Added {added} of the {len(chosen)} selected to '{name}'.")
        self.new_list.value = ""
        self._refresh_names()

    def _load(self, event) -> None:
        if not event.new:
            return
        try:
            self.builder.load(event.new)
        except CrmError as error:
            say(self.message, str(error), "danger")

    def _save(self, _event=None) -> None:
        try:
            row = self.builder.save()
        except CrmError as error:
            say(self.message, str(error), "danger")
            return
        members = self.model.members(row["id"])
        say(self.message, f"Saved '{row['name']}': {members:,} members.")
        self._refresh_names()

    def _add_emails(self, _event=None) -> None:
        try:
            name = self.new_list.value.strip() or self.list_name.value
            if not name:
                raise CrmError("choose a list or name a new one")
            if self.new_list.value.strip():
                self.model.create_list(name)
            result = self.model.add_emails(name, self.emails.value)
        except CrmError as error:
            say(self.list_message, str(error), "danger")
            return
        text = f"Added {result['added']} to '{name}' ({result['already']} were on it already)."
        if result["unknown"]:
            text += f" No contact has {len(result['unknown'])} of the addresses: {', '.join(result['unknown'][:5])}"
        if result["invalid"]:
            text += f" Not addresses: {', '.join(result['invalid'][:5])}"
        say(self.list_message, text, "warning" if result["unknown"] or result["invalid"] else "success")
        self.new_list.value = ""
        self._refresh_names()

    def _conditions(self, conditions):
        return pn.Column(*[editor(self.builder, c, self.read_only) for c in conditions])

    def _count(self, _changed=None):
        b = self.builder
        if b.problem:
            return alert(b.problem, "warning")
        return pn.pane.HTML(
            f'<div class="mk-count"><b class="mk-count-value">{b.count:,}</b> contacts match</div>'
            f"<details><summary>SQL</summary><pre class='mk-sql'>{html.escape(b.sql)}</pre></details>",
            sizing_mode="stretch_width",
        )

    def _list(self, _revision=None):
        try:
            frame = self.model.segments()
        except CrmError as error:
            return alert(str(error))
        return table(frame[["name", "kind", "members", "status", "problem", "conditions"]], height=260)

    def __panel__(self):
        b = self.builder
        name = pn.widgets.TextInput.from_param(
            b.param.segment_name, label="Segment name", width=260, disabled=self.read_only
        )
        match = pn.widgets.RadioButtonGroup.from_param(
            b.param.match, width=140, disabled=self.read_only, css_classes=["mk-match"]
        )
        return pn.Column(
            pn.bind(self._list, self.model.workspace.param.revision),
            pn.Card(
                pn.Row(
                    name,
                    pn.Column(pn.pane.Markdown("Match", margin=(0, 5)), match),
                    self.editing,
                    pn.Column(pn.Spacer(height=18), self.new_button),
                ),
                pn.bind(self._conditions, b.param.conditions),
                pn.Row(self.add_button, self.group_button),
                pn.bind(self._count, b.param.changed),
                self.save_button,
                self.message,
                title="Build a segment",
                sizing_mode="stretch_width",
            ),
            lazy_card(
                lambda: [
                    pn.Row(self.list_name, self.new_list),
                    self.emails,
                    self.add_emails,
                    self.pick_from,
                    self.picker,
                    self.add_selected,
                    pn.Row(self.batch, pn.Column(pn.Spacer(height=18), self.add_batch)),
                    self.list_message,
                ],
                title="Static lists: paste addresses, pick people or take an import",
                sizing_mode="stretch_width",
            ),
            sizing_mode="stretch_width",
        )
