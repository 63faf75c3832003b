"""Edits in progress as params (no widgets): a record form, an activity to log, a merge.

Each holds what the user typed or chose, and one method writes it through the
Store; what went wrong is left in params for the form to show.
"""

from __future__ import annotations

from typing import Any, ClassVar

import param

from crm_workspace import ConflictError, CrmError, ValidationError, Workspace
from crm_workspace.data.schema import ACTIVITY_KINDS, CHANNELS, STAKEHOLDER_TYPES

from . import merge, queries, records
from .labels import field_label


class RecordDraft(param.Parameterized):
    """A new record, or an edit of one with the version it was loaded at.

    An edit saves only the fields that changed, at that version: when someone saved
    in between, the Store refuses and ``conflict`` holds both sides for the form to
    show, instead of overwriting theirs.
    """

    workspace = param.ClassSelector(class_=Workspace)
    record_id = param.Integer(default=None, allow_None=True)
    errors = param.Dict(default={}, doc="Field -> why the last save refused its value.")
    problems = param.List(default=[], item_type=str, doc="Errors of the last save not tied to a field here.")
    conflict = param.ClassSelector(class_=ConflictError, default=None, allow_None=True)

    table: ClassVar[str] = ""
    #: the editable columns, in form order (each a String param of the subclass)
    fields: ClassVar[tuple[str, ...]] = ()
    #: column -> param, where a column's name is taken by Parameterized itself ("name")
    renamed: ClassVar[dict[str, str]] = {}

    def __init__(self, **params: Any):
        super().__init__(**params)
        self.loaded: dict[str, Any] = self.workspace.store.get(self.table, self.record_id) if self.record_id else {}
        self.version: int | None = self.loaded.get("version")
        self.param.update({self.renamed.get(name, name): self._initial(name) for name in self.fields})

    def value(self, column: str) -> str:
        return getattr(self, self.renamed.get(column, column))

    def param_of(self, column: str) -> param.Parameter:
        """The param a column's widget binds to."""
        return self.param[self.renamed.get(column, column)]

    def _initial(self, name: str) -> str:
        value = self.loaded.get(name)
        return "" if value is None else str(value)

    def choices(self, name: str) -> list[str] | None:
        """The values a field may take, or None for free text (the current value is always one)."""
        return None

    def values(self) -> dict[str, Any]:
        """The fields as they would be saved: blank text is NULL."""
        return {name: (self.value(name) if self.value(name).strip() else None) for name in self.fields}

    def save(self, *, force_version: int | None = None) -> dict | None:
        """Write the draft; the saved row, or None with ``errors``/``problems``/``conflict`` set."""
        self.param.update(errors={}, problems=[], conflict=None)
        values = self.values()
        store = self.workspace.store
        try:
            if self.record_id:
                changes = {k: v for k, v in values.items() if self.loaded.get(k) != v}
                return store.update(self.table, self.record_id, changes, version=force_version or self.version)
            return store.insert(self.table, values)
        except ValidationError as error:
            mine = {name: text for name, text in error.errors.items() if name in self.fields}
            others = [
                f"{field_label(self.table, name)}: {text}"
                for name, text in error.errors.items()
                if name not in self.fields
            ]
            self.param.update(errors=mine, problems=others)
        except ConflictError as error:
            self.conflict = error
        except CrmError as error:
            self.problems = [str(error)]
        return None

    def conflicting_fields(self) -> list[str]:
        """The fields the conflict is about: the ones I changed and the ones they did."""
        error = self.conflict
        if error is None:
            return []
        return [n for n in self.fields if n in error.mine or error.theirs.get(n) != self.loaded.get(n)]


def _with_current(options: list[str], current: str) -> list[str]:
    return options if current in options else [*options, current]


class ContactDraft(RecordDraft):
    """A contact in the making."""

    first_name = param.String(default="")
    last_name = param.String(default="")
    email = param.String(default="")
    phone = param.String(default="")
    title = param.String(default="")
    organization_id = param.String(default="", label="Organization id")
    stakeholder_type = param.String(default="prospect")
    lifecycle_stage = param.String(default="")
    owner = param.String(default="")
    notes = param.String(default="")

    table = "contacts"
    fields = (
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

    def _initial(self, name: str) -> str:
        value = self.loaded.get(name)
        if name == "stakeholder_type":
            return value or "prospect"
        if name == "owner":
            return value or self.workspace.user
        return super()._initial(name)

    def choices(self, name: str) -> list[str] | None:
        current = self.value(name)
        if name == "stakeholder_type":
            return _with_current(list(STAKEHOLDER_TYPES), current)
        if name == "lifecycle_stage":
            return _with_current(["", *self.workspace.lifecycle_stages()], current)
        if name == "owner":
            return _with_current(["", *queries.active_users(self.workspace)], current)
        return None


class OrganizationDraft(RecordDraft):
    """An organization in the making."""

    org_name = param.String(default="", label="Name")
    domain = param.String(default="")
    industry = param.String(default="")
    city = param.String(default="")
    country = param.String(default="")
    phone = param.String(default="")
    website = param.String(default="")
    owner = param.String(default="")

    table = "organizations"
    fields = ("name", "domain", "industry", "city", "country", "phone", "website", "owner")
    renamed: ClassVar[dict[str, str]] = {"name": "org_name"}


DRAFTS: dict[str, type[RecordDraft]] = {"contacts": ContactDraft, "organizations": OrganizationDraft}


class ActivityDraft(param.Parameterized):
    """A call, email, meeting or note to log on a record, or a task to create."""

    workspace = param.ClassSelector(class_=Workspace)
    table = param.Selector(objects=["contacts", "organizations"], default="contacts")
    record_id = param.Integer()
    kind = param.Selector(objects=list(ACTIVITY_KINDS), default="call")
    subject = param.String(default="")
    body = param.String(default="", label="Notes")
    channel = param.Selector(objects=list(CHANNELS), default="phone")
    due = param.CalendarDate(default=None, allow_None=True, label="Due date")
    owner = param.String(default="")  # who a task is for (a logged activity is the acting user's)
    error = param.String(default="", doc="Why the last save failed, or empty.")

    def __init__(self, **params: Any):
        super().__init__(**params)
        users = self.owner_choices()
        if not self.owner:
            self.owner = self.workspace.user if self.workspace.user in users else users[0]

    def owner_choices(self) -> list[str]:
        return queries.active_users(self.workspace) or [self.workspace.user]

    def start(self, kind: str) -> None:
        """Begin a fresh entry of ``kind`` with its usual subject and channel."""
        self.param.update(
            kind=kind,
            subject={"task": "Follow up"}.get(kind, kind.capitalize()),
            body="",
            channel=records.default_channel(kind) or "phone",
            error="",
        )

    def save(self) -> dict | None:
        """Log it; the activity row, or None with ``error`` set."""
        due = None
        if self.kind == "task":
            if not self.due:
                self.error = "A task needs a due date."
                return None
            due = f"{self.due.isoformat()}T17:00:00Z"
        try:
            row = records.log_activity(
                self.workspace,
                self.table,
                self.record_id,
                self.kind,
                subject=self.subject,
                body=self.body,
                channel=self.channel,
                due_at=due,
                owner=self.owner if self.kind == "task" else None,
            )
        except CrmError as error:
            self.error = str(error)
            return None
        self.error = ""
        return row


class FieldChoice(param.Parameterized):
    """Which side of a merge one field keeps."""

    field = param.String()
    take = param.Selector(objects=["winner", "loser"], default="winner")


class MergeReview(param.Parameterized):
    """Two contacts about to be merged (the loser into the winner), and a choice per differing field."""

    workspace = param.ClassSelector(class_=Workspace)
    winner = param.Dict()
    loser = param.Dict()
    choices = param.List(default=[], item_type=FieldChoice)

    @classmethod
    def of_pair(cls, workspace: Workspace, pair: dict) -> MergeReview:
        """A review of a possible duplicate pair, keeping ``a``; blanks of ``a`` default to ``b``'s value."""
        winner, loser = workspace.store.get("contacts", pair["a"]), workspace.store.get("contacts", pair["b"])
        choices = [
            FieldChoice(field=field, take="loser" if winner.get(field) in (None, "") else "winner")
            for field in merge.MERGEABLE_FIELDS
            if winner.get(field) != loser.get(field)
        ]
        return cls(workspace=workspace, winner=winner, loser=loser, choices=choices)

    def merge(self) -> int:
        """Merge as chosen, refusing if either contact changed since the review opened; the merge log id."""
        return merge.merge_contacts(
            self.workspace,
            self.winner["id"],
            self.loser["id"],
            {choice.field: choice.take for choice in self.choices},
            winner_version=self.winner["version"],
            loser_version=self.loser["version"],
        )
