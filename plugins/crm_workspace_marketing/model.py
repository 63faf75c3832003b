"""The Marketing page's state over the store (no widgets here): the segment builder, the lists the tabs show.

Every listing is a ``ws.df("marketing.…")`` view or a function those views call, so the
page shows exactly what a notebook gets.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pandas as pd
import param

from crm_workspace import CrmError, Workspace

from . import analytics, campaigns, fields, filters, forms, imports, segments, sending

ANY = "(choose a field)"


class Condition(param.Parameterized):
    """One line of the filter builder: a field, an operator, a value as typed."""

    field = param.String(default="")
    op = param.String(default="")
    value = param.String(default="", doc="Comma-separated for lists; 'a .. b' for between.")

    def as_filter(self, kind: str) -> dict[str, Any]:
        value: Any = self.value.strip()
        if self.op in fields.NO_VALUE:
            return {"field": self.field, "op": self.op}
        if self.op in fields.LIST_OPS:
            value = [v.strip() for v in value.split(",") if v.strip()]
        elif self.op == "between":
            value = [v.strip() for v in value.replace("..", ",").split(",")][:2]
        elif kind == "number" or self.op in ("in_last_days", "not_in_last_days"):
            with contextlib.suppress(ValueError):  # else the compiler says what is wrong
                value = float(value) if "." in value else int(value)
        return {"field": self.field, "op": self.op, "value": value}


class Kept(param.Parameterized):
    """A part of a saved filter the builder does not edit (a group nested deeper than one level), kept as is."""

    value = param.Dict(default={})

    def as_filter(self, _kind: str = "") -> dict[str, Any]:
        return self.value


class ConditionGroup(param.Parameterized):
    """A group inside the segment: all or any of its own conditions (e.g. ANY of [tag is vip, score > 50])."""

    match = param.Selector(default="any", objects=["all", "any"], doc="Match all or any of the group's conditions.")
    conditions = param.List(default=[], doc="Its conditions (Condition, or Kept for deeper groups).")


class SegmentBuilder(param.Parameterized):
    """A segment being edited: its conditions and groups (one level), the live count and SQL, saving."""

    workspace = param.ClassSelector(class_=Workspace)
    segment_name = param.String(default="", label="Segment name", doc="The segment's name.")
    match = param.Selector(default="all", objects=["all", "any"], doc="Match all or any of the conditions.")
    conditions = param.List(default=[], doc="Condition and ConditionGroup items, in order.")
    segment_id = param.Integer(default=None, allow_None=True, doc="The saved segment being edited (None: a new one).")
    version = param.Integer(default=None, allow_None=True)
    count = param.Integer(default=None, allow_None=True, doc="Contacts the filter matches now.")
    problem = param.String(default="", doc="Why the filter cannot run, if it cannot.")
    sql = param.String(default="", doc="The SQL deciding membership, values written in.")
    changed = param.Event()

    def __init__(self, **params):
        super().__init__(**params)
        self._catalog = {f.key: f for f in fields.catalog(self.workspace)}
        self.refresh()

    # ------------------------------------------------------------ the fields
    def field_options(self) -> dict[str, str]:
        return {f.label: f.key for f in self._catalog.values()}

    def field(self, key: str) -> fields.Field | None:
        return self._catalog.get(key)

    def ops_for(self, key: str) -> dict[str, str]:
        found = self.field(key)
        return {label: op for op, label in found.ops.items()} if found else {}

    # ------------------------------------------------------------ conditions
    def _condition(self, key: str = "lifecycle_stage", op: str | None = None, value: str = "") -> Condition:
        found = self.field(key) or next(iter(self._catalog.values()))
        condition = Condition(field=found.key, op=op or next(iter(found.ops)), value=value)
        condition.param.watch(lambda *_: self.refresh(), ["field", "op", "value"])
        return condition

    def add(
        self,
        key: str = "lifecycle_stage",
        op: str | None = None,
        value: str = "",
        *,
        group: ConditionGroup | None = None,
    ) -> Condition:
        """A new condition at the end of the segment (or of ``group``)."""
        condition = self._condition(key, op, value)
        holder = group or self
        holder.conditions = [*holder.conditions, condition]
        self.refresh()
        return condition

    def add_group(self, match: str | None = None, *, first: bool = True) -> ConditionGroup:
        """A new group, matching the other way than the segment (ALL of [..., ANY of [...]]), with one condition."""
        group = ConditionGroup(match=match or ("any" if self.match == "all" else "all"))
        group.param.watch(lambda *_: self.refresh(), ["match", "conditions"])
        if first:
            group.conditions = [self._condition()]
        self.conditions = [*self.conditions, group]
        self.refresh()
        return group

    def remove(self, item: Condition | ConditionGroup | Kept) -> None:
        """Take a condition or group out (wherever it is); a group left empty goes too."""
        kept = []
        for current in self.conditions:
            if current is item:
                continue
            if isinstance(current, ConditionGroup) and any(c is item for c in current.conditions):
                current.conditions = [c for c in current.conditions if c is not item]
                if not current.conditions:
                    continue
            kept.append(current)
        self.conditions = kept
        self.refresh()

    def _item(self, item) -> dict[str, Any]:
        if isinstance(item, ConditionGroup):
            return {"match": item.match, "conditions": [self._item(c) for c in item.conditions]}
        return item.as_filter(getattr(self.field(getattr(item, "field", "")), "kind", "text"))

    def as_filter(self) -> dict[str, Any]:
        return {"match": self.match, "conditions": [self._item(c) for c in self.conditions]}

    @param.depends("match", watch=True)
    def refresh(self) -> None:
        """The live count and SQL of the filter as it stands (a message instead when it cannot run)."""
        try:
            compiled = filters.compile_filter(self.workspace, self.as_filter())
            sql, params = compiled.count_sql()
            count = int(self.workspace.store.scalar(sql, params) or 0)
            shown = segments.inline_sql(*compiled.select())
            self.param.update(count=count, problem="", sql=shown)
        except CrmError as error:
            self.param.update(count=None, problem=str(error), sql="")
        self.param.trigger("changed")

    # ------------------------------------------------------------ load, save
    def _loaded(self, item: dict, depth: int):
        if "conditions" not in item:
            value = item.get("value", "")
            shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
            condition = Condition(field=item.get("field", ""), op=item.get("op", ""), value=shown)
            condition.param.watch(lambda *_: self.refresh(), ["field", "op", "value"])
            return condition
        if depth > 1:  # deeper than the builder edits: kept exactly as saved (a notebook made it)
            return Kept(value=item)
        group = ConditionGroup(match="any" if str(item.get("match", "all")).lower() == "any" else "all")
        group.conditions = [self._loaded(c, depth + 1) for c in item.get("conditions") or [] if isinstance(c, dict)]
        group.param.watch(lambda *_: self.refresh(), ["match", "conditions"])
        return group

    def load(self, name: str) -> None:
        row = segments.get_segment(self.workspace, name)
        if row["kind"] != "dynamic":
            raise CrmError(f"'{row['name']}' is a static list: add people to it below")
        group = filters.parse(row["filter"])
        items = [self._loaded(c, 1) for c in group.get("conditions") or [] if isinstance(c, dict)]
        self.param.update(
            conditions=items,
            segment_name=row["name"],
            match="any" if str(group.get("match", "all")).lower() == "any" else "all",
            segment_id=row["id"],
            version=row["version"],
        )
        self.refresh()

    def new(self) -> None:
        self.param.update(segment_name="", segment_id=None, version=None, conditions=[])
        self.refresh()

    def save(self) -> dict[str, Any]:
        row = segments.save_segment(
            self.workspace, self.segment_name, self.as_filter(), segment_id=self.segment_id, version=self.version
        )
        self.param.update(segment_id=row["id"], version=row["version"])
        self.workspace.changed()
        return row


class MarketingModel(param.Parameterized):
    """What the tabs list, each as the data view a notebook gets."""

    workspace = param.ClassSelector(class_=Workspace)
    campaign = param.String(default="", doc="The campaign shown in detail.")

    def segments(self) -> pd.DataFrame:
        return self.workspace.df("marketing.segments")

    def segment_name(self, segment_id: int | None) -> str | None:
        rows = self.workspace.query("SELECT name FROM segments WHERE id = ?", [segment_id])
        return rows[0]["name"] if rows else None

    def segment_id(self, name: str) -> int:
        return segments.get_segment(self.workspace, name)["id"]

    def members(self, segment_id: int) -> int:
        return int(
            self.workspace.store.scalar("SELECT count(*) FROM segment_members WHERE segment_id = ?", [segment_id])
        )

    def segment_names(self, kind: str | None = None) -> list[str]:
        frame = self.segments()
        return list(frame[frame.kind == kind].name if kind else frame.name)

    def add_emails(self, name: str, text: str) -> dict[str, Any]:
        result = segments.add_emails(self.workspace, name, text)
        self.workspace.changed()
        return result

    def member_sample(self, name: str, limit: int = 200) -> pd.DataFrame:
        """The first members of a segment, to pick people from for a static list."""
        return self.workspace.df("marketing.segment", name=name, limit=limit)

    def add_selection(self, name: str, contact_ids: list[int]) -> int:
        added = segments.add_members(self.workspace, name, contact_ids)
        self.workspace.changed()
        return added

    def import_batches(self) -> dict[str, str]:
        """The contact imports to make a list from: label -> batch id, newest first."""
        return {row["label"]: row["id"] for row in imports.import_batches(self.workspace)}

    def add_import(self, name: str, batch_id: str) -> dict[str, int]:
        result = imports.add_import(self.workspace, name, batch_id)
        self.workspace.changed()
        return result

    def create_list(self, name: str) -> dict[str, Any]:
        row = segments.save_segment(self.workspace, name, kind="static")
        self.workspace.changed()
        return row

    # ------------------------------------------------------------- campaigns
    def campaigns(self) -> pd.DataFrame:
        return self.workspace.df("marketing.campaigns")

    def campaign_row(self, name: str) -> dict[str, Any]:
        return campaigns.get_campaign(self.workspace, name)

    def save_campaign(self, values: dict[str, Any], campaign_id=None, version=None) -> dict[str, Any]:
        row = campaigns.save_campaign(self.workspace, values, campaign_id, version)
        self.workspace.changed()
        return row

    def audience_count(self, name: str) -> int:
        return campaigns.audience_count(self.workspace, self.campaign_row(name))

    def preview(self, name: str, contact_id: int | None, variant: int = 0) -> dict[str, str]:
        return sending.preview(self.workspace, name, contact_id, variant)

    def send_test(self, name: str, to: str, contact_id: int | None) -> str:
        return sending.send_test(self.workspace, name, to, contact_id)

    def queue(self, name: str) -> int:
        queued = sending.queue(self.workspace, name)
        self.workspace.changed()
        return queued

    def progress(self, name: str) -> pd.DataFrame:
        return self.workspace.df("marketing.sending", campaign=name)

    def failures(self, name: str) -> pd.DataFrame:
        return self.workspace.df("marketing.failures", campaign=name)

    def variants(self, name: str) -> pd.DataFrame:
        return self.workspace.df("marketing.ab", campaign=name)

    def ab_decision(self, name: str) -> str:
        ab = campaigns.ab_config(self.campaign_row(name))
        if not ab:
            return ""
        if ab.get("phase") == "decided":
            return f"Winner: variant {chr(65 + int(ab['winner']))} by {ab['metric']} (decided {ab.get('decided_at')})"
        if ab.get("phase") == "testing":
            return f"Testing on {ab['share']:.0%} of the audience; the winner by {ab['metric']} after {ab['wait_hours']:g} h"
        return f"A/B test: {len(ab['variants']) + 1} versions on {ab['share']:.0%}, winner by {ab['metric']}"

    # --------------------------------------------------------------- forms
    def forms(self) -> pd.DataFrame:
        frame = self.workspace.df("marketing.forms")
        if len(frame):
            frame.insert(2, "address", [forms.form_url(self.workspace, s) for s in frame.slug])
        return frame

    def save_form(self, values: dict[str, Any]) -> dict[str, Any]:
        row = forms.save_form(self.workspace, values)
        self.workspace.changed()
        return row

    # ------------------------------------------------------------ analytics
    def attribution(self) -> pd.DataFrame:
        return self.workspace.df("marketing.attribution")

    def daily(self, days: int = 120) -> pd.DataFrame:
        """People's activity per day over the last ``days`` days."""
        from datetime import UTC, datetime, timedelta

        since = (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%d")
        return self.workspace.df("marketing.daily", since=since)

    def totals(self) -> dict[str, int]:
        frame = analytics.campaign_stats(self.workspace)
        keys = ("sent", "delivered", "bounced", "unique_opens", "clicks", "unsubscribes")
        out = {k: int(frame[k].sum()) if len(frame) else 0 for k in keys}
        out["signups"] = int(self.workspace.store.scalar("SELECT count(*) FROM marketing_events WHERE kind = 'signup'"))
        return out


def filter_text(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False)


class MachineRules(param.Parameterized):
    """The team's rules for events no person made, and the click rule, as params bound to the inputs."""

    workspace = param.ClassSelector(class_=Workspace)
    seconds = param.Integer(default=5, bounds=(0, 3600), label="Seconds after delivery that count as a machine")
    agents = param.String(default="", label="Scanner user agents (one pattern per line)")
    click_qualifies = param.Boolean(default=True, label="A click makes a subscriber or lead marketing-qualified")

    def __init__(self, **params):
        super().__init__(**params)
        ws = self.workspace
        self.param.update(
            seconds=int(ws.setting("marketing_machine_seconds", 5)),
            agents="\n".join(ws.setting("marketing_scanner_agents", []) or []),
            click_qualifies=bool(ws.setting("marketing_click_qualifies", True)),
        )

    def save(self) -> None:
        ws = self.workspace
        ws.set_setting("marketing_machine_seconds", self.seconds)
        ws.set_setting("marketing_scanner_agents", [line.strip() for line in self.agents.splitlines() if line.strip()])
        ws.set_setting("marketing_click_qualifies", self.click_qualifies)
