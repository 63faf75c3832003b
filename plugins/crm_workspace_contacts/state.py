"""The pages' state as params over the store (no widgets): lists, a record page, duplicates.

A view binds its widgets to these params (``Widget.from_param``) and redraws when
the outputs (``rows``, ``total``, ...) change; the SQL stays in queries.py,
records.py and merge.py.
"""

from __future__ import annotations

import io
from typing import Any, ClassVar

import param

from crm_workspace import CrmError, RecordSection, Workspace
from crm_workspace.data.schema import STAKEHOLDER_TYPES
from crm_workspace.data.shared import UntilChanged

from . import merge, queries, records
from .drafts import MergeReview

#: Record sections (by key) that show in full what a record page would otherwise list briefly.
DEALS_SECTION = "pipeline.deals"
RELATIONSHIPS_SECTION = "relationships.list"

#: The duplicate search per (workspace file, limit), shared by the server's sessions until a commit.
PAIRS = UntilChanged(size=8)


def _xlsx(frame: Any, sheet: str) -> io.BytesIO:
    from crm_workspace.services.export import to_xlsx_bytes

    return io.BytesIO(to_xlsx_bytes(frame, sheet))


class _PagedList(param.Parameterized):
    """Inputs in, one page of ``rows`` and a capped ``total`` out, reloaded on every change.

    A change of any input other than ``page`` goes back to the first page; a data change
    in the workspace (``revision``) reloads the same page.
    """

    workspace = param.ClassSelector(class_=Workspace)
    page = param.Integer(default=0, bounds=(0, None))
    rows = param.List(default=[], doc="The rows of the current page.")
    total = param.Integer(default=0, doc="How many rows match, counted up to COUNT_CAP + 1.")
    error = param.String(default="", doc="Why the last load failed, or empty.")

    #: the params that are filters or sort orders (their change returns to page one)
    inputs: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **params: Any):
        super().__init__(**params)
        self.param.watch(self._changed, [*self.inputs, "page"])
        self.workspace.param.watch(lambda _event: self.load(), "revision")

    def _changed(self, *events: param.parameterized.Event) -> None:
        if self.page and any(event.name != "page" for event in events):
            self.page = 0  # this watcher runs again for the page and loads once
            return
        self.load()

    def _query(self) -> tuple[list[dict], int]:
        raise NotImplementedError

    def load(self) -> None:
        try:
            rows, total = self._query()
        except CrmError as error:
            self.error = str(error)
            return
        self.param.update(rows=rows, total=total, error="")

    def previous_page(self) -> None:
        self.page = max(0, self.page - 1)

    def next_page(self) -> None:
        self.page += 1

    @property
    def has_previous(self) -> bool:
        return self.page > 0

    @property
    def has_next(self) -> bool:
        return len(self.rows) >= queries.PAGE_SIZE

    def summary(self, noun: str) -> str:
        """``"1,234 contacts"`` (``"10,000+"`` past the count cap)."""
        shown = f"{queries.COUNT_CAP:,}+" if self.total > queries.COUNT_CAP else f"{self.total:,}"
        return f"{shown} {noun}"

    def owner_choices(self) -> list[str]:
        return queries.active_users(self.workspace)


class ContactListModel(_PagedList):
    """The contact list: search, filters, sort and page."""

    # no doc= on params bound to widgets: from_param would show it as a tooltip icon
    search = param.String(default="")  # free text, matched as you type (full-text, prefix)
    stakeholder_type = param.String(default="")
    lifecycle_stage = param.String(default="")
    owner = param.String(default="")
    organization_id = param.Integer(default=None, allow_None=True)
    tag = param.String(default="")
    touched_after = param.CalendarDate(default=None, allow_None=True)
    touched_before = param.CalendarDate(default=None, allow_None=True)
    sort = param.String(default="")  # a key of CONTACT_SORTS, or "": by relevance when searching, else last name
    descending = param.Boolean(default=False)

    filter_names: ClassVar[tuple[str, ...]] = (
        "search",
        "stakeholder_type",
        "lifecycle_stage",
        "owner",
        "organization_id",
        "tag",
        "touched_after",
        "touched_before",
    )
    inputs = (*filter_names, "sort", "descending")

    def filters(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.filter_names if getattr(self, name) not in (None, "")}

    def _query(self) -> tuple[list[dict], int]:
        rows = queries.list_contacts(
            self.workspace,
            sort=self.sort or None,
            descending=self.descending,
            limit=queries.PAGE_SIZE,
            offset=self.page * queries.PAGE_SIZE,
            **self.filters(),
        )
        return rows, queries.count_contacts(self.workspace, **self.filters())

    def organization_name(self) -> str:
        """The name of the organization the list is narrowed to ("" when it is not)."""
        if not self.organization_id:
            return ""
        return queries.organization_name(self.workspace, self.organization_id) or f"#{self.organization_id}"

    def type_choices(self) -> list[str]:
        return list(STAKEHOLDER_TYPES)

    def stage_choices(self) -> list[str]:
        return list(self.workspace.lifecycle_stages())

    def tag_choices(self) -> list[str]:
        return queries.all_tags(self.workspace)

    def to_xlsx(self) -> io.BytesIO:
        """Every contact the list matches (not just this page), in its order, as a workbook."""
        frame = self.workspace.df(
            "contacts.list", sort=self.sort or None, descending=self.descending, limit=100_000, **self.filters()
        )
        return _xlsx(frame, "Contacts")


class OrganizationListModel(_PagedList):
    """The organization list: search, industry and owner filters, sort and page."""

    search = param.String(default="")  # free text, matched as you type; ranks by relevance
    industry = param.String(default="")
    owner = param.String(default="")
    sort = param.Selector(objects=list(queries.ORG_SORTS), default="name")
    descending = param.Boolean(default=False)

    inputs = ("search", "industry", "owner", "sort", "descending")

    def filters(self) -> dict[str, Any]:
        out: dict[str, Any] = {"search": self.search or ""}
        out.update({name: getattr(self, name) for name in ("industry", "owner") if getattr(self, name)})
        return out

    def _query(self) -> tuple[list[dict], int]:
        rows = queries.list_organizations(
            self.workspace,
            sort=self.sort if not self.search else None,  # a search ranks by relevance
            descending=self.descending,
            offset=self.page * queries.PAGE_SIZE,
            **self.filters(),
        )
        return rows, queries.count_organizations(self.workspace, **self.filters())

    def industry_choices(self) -> list[str]:
        return queries.industries(self.workspace)

    def to_xlsx(self) -> io.BytesIO:
        frame = self.workspace.df("contacts.organizations", limit=100_000, **self.filters())
        return _xlsx(frame, "Organizations")


class RecordModel(param.Parameterized):
    """One contact's or organization's page: its data, read fresh at every call."""

    workspace = param.ClassSelector(class_=Workspace)
    table = param.Selector(objects=["contacts", "organizations"], default="contacts")
    record_id = param.Integer()
    timeline_limit = param.Integer(default=100, bounds=(1, None), doc="How many touchpoints the timeline shows.")

    def row(self) -> dict:
        return self.workspace.store.get(self.table, self.record_id)

    def timeline(self) -> list[dict]:
        return records.timeline(self.workspace, self.table, self.record_id, self.timeline_limit)

    def show_more(self) -> None:
        self.timeline_limit += 200

    def lifecycle(self) -> list[dict]:
        return records.lifecycle_history(self.workspace, self.record_id)

    def tags(self) -> list[str]:
        return records.tags_of(self.workspace, self.record_id)

    def consent_fields(self) -> list[str]:
        return records.consent_fields(self.workspace)

    def organization_of(self, row: dict) -> dict | None:
        return records.organization_of(self.workspace, row)

    def people(self) -> list[dict]:
        return records.people_of(self.workspace, self.record_id)

    def deals(self) -> list[dict]:
        return records.deals_of(self.workspace, self.table, self.record_id)

    def related(self) -> list[dict]:
        return records.related_people(self.workspace, self.table, self.record_id)

    def sections(self) -> list[RecordSection]:
        """What other plugins add to this page."""
        return self.workspace.record_sections(self.table, self.record_id)

    def short_lists(self) -> tuple[bool, bool]:
        """Whether this page lists (deals, relationships) itself: not when a section shows them in full."""
        covered = {section.key for section in self.sections()}
        return DEALS_SECTION not in covered, RELATIONSHIPS_SECTION not in covered


class DuplicatesModel(param.Parameterized):
    """Possible duplicates, the merge being reviewed, and the outcome of the last action."""

    workspace = param.ClassSelector(class_=Workspace)
    review = param.ClassSelector(class_=MergeReview, default=None, allow_None=True)
    message = param.String(default="", doc="What the last merge did, or why it failed.")
    failed = param.Boolean(default=False, doc="Whether ``message`` reports a failure.")

    def pairs(self, limit: int = 100) -> list[dict]:
        """The likeliest duplicate pairs, searched again only when the data changed since the last search
        (any session's: the search compares every contact, 1.1 s at 100k contacts)."""
        pairs = PAIRS.get(
            self.workspace.store,
            (self.workspace.path, limit),
            lambda: merge.find_duplicates(self.workspace, limit=limit),
        )
        return [dict(pair) for pair in pairs]  # the caller's own: the shared ones stay as found

    def log(self, limit: int = 50) -> list[dict]:
        return merge.merge_log(self.workspace, limit)

    def start_review(self, pair: dict) -> None:
        """Open the merge of ``pair`` field by field (raises CrmError when one side is gone)."""
        review = MergeReview.of_pair(self.workspace, pair)
        self.param.update(review=review, message="")

    def cancel(self) -> None:
        self.review = None

    def merge(self) -> int | None:
        """Merge as reviewed; the log id, or None with ``message`` saying why not."""
        try:
            log_id = self.review.merge()
        except CrmError as error:
            self.param.update(message=str(error), failed=True)
            return None
        self.param.update(
            review=None, message=f"Merged (merge {log_id}): undo it from the merge log below.", failed=False
        )
        return log_id

    def undo(self, log_id: int) -> None:
        merge.undo_merge(self.workspace, log_id)
