"""What a segment can filter on: every contact column, organization columns, custom fields, tags,
lead scores, last activity and consent; each field's kind decides its operators.

Field keys as a filter stores them:

- ``lifecycle_stage`` (any column of ``contacts``, checked against ``store.columns``),
- ``organization.country`` (any column of the contact's organization),
- ``custom.Favourite colour`` (a spreadsheet column kept as a custom field, ``excel_custom_fields``),
- ``tags`` (``contact_tags``), ``lead_score.rule_points`` (``lead_scores``, when the scoring
  plugin made it), ``last_activity`` (the contact's latest activity), ``consent``,
  ``email_engagement`` (opened or clicked a campaign, any campaign, or any e-mail including
  sequences': people only, never machines).

A key that no longer resolves (a column removed, the scoring plugin gone) raises
``FieldGone``: the segment using it is marked broken, nothing crashes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from crm_workspace import CrmError, NotFound
from crm_workspace.data.schema import STAKEHOLDER_TYPES

if TYPE_CHECKING:
    from crm_workspace import Workspace


class FilterError(CrmError):
    """A segment filter a person wrote that cannot be run, with the reason."""


class FieldGone(FilterError):
    """A filter names a field that does not exist (any more)."""


#: Operators by field kind, with the words a person reads.
OPS: dict[str, dict[str, str]] = {
    "text": {
        "is": "is",
        "is_not": "is not",
        "in": "is one of",
        "not_in": "is none of",
        "contains": "contains",
        "not_contains": "does not contain",
        "starts_with": "starts with",
        "is_empty": "is empty",
        "is_not_empty": "is not empty",
    },
    "choice": {
        "is": "is",
        "is_not": "is not",
        "in": "is one of",
        "not_in": "is none of",
        "is_empty": "is empty",
        "is_not_empty": "is not empty",
    },
    "number": {
        "eq": "=",
        "ne": "≠",
        "lt": "<",
        "le": "≤",
        "gt": ">",
        "ge": "≥",
        "between": "between",
        "is_empty": "is empty",
        "is_not_empty": "is not empty",
    },
    "date": {
        "in_last_days": "in the last N days",
        "not_in_last_days": "not in the last N days",
        "before": "before",
        "after": "after",
        "on": "on",
        "between": "between",
        "is_empty": "never / empty",
        "is_not_empty": "any time",
    },
    "tags": {"has_any": "has any of", "has_all": "has all of", "has_none": "has none of"},
    "engagement": {
        "opened": "opened",
        "clicked": "clicked",
        "not_opened": "did not open",
        "not_clicked": "did not click",
    },
    "consent": {"is": "is", "is_not": "is not"},
}
#: Operators that take no value; operators that take a list.
NO_VALUE = frozenset({"is_empty", "is_not_empty"})
LIST_OPS = frozenset({"in", "not_in", "has_any", "has_all", "has_none"})
CONSENT_VALUES = {"given": 1, "withdrawn": 0, "never_asked": None}
#: ``email_engagement`` values: any campaign (never a sequence's mail); any e-mail, campaign or sequence.
ANY_CAMPAIGN = "any"
ANY_EMAIL = "any e-mail"

_HIDDEN = {"version", "updated_by"}
_CHOICE_COLUMNS = {"lifecycle_stage", "stakeholder_type", "owner"}


@dataclass(frozen=True)
class Field:
    """One thing a condition can test."""

    key: str
    label: str
    kind: str  # a key of OPS
    source: str  # contacts | organizations | custom | tags | lead_scores | activities
    column: str = ""
    choices: tuple[str, ...] = ()

    @property
    def ops(self) -> dict[str, str]:
        return OPS[self.kind]


def _kind(column: str, declared: str) -> str:
    declared = (declared or "").upper()
    if column.endswith(("_at", "_date")) or column in ("expected_close", "birthday"):
        return "date"
    if any(word in declared for word in ("INT", "REAL", "FLOA", "NUM", "DOUB")):
        return "number"
    return "text"


def _label(column: str) -> str:
    return column.replace("_", " ").capitalize()


def _choices(workspace: Workspace, column: str) -> tuple[str, ...]:
    if column == "lifecycle_stage":
        return tuple(workspace.lifecycle_stages())
    if column == "stakeholder_type":
        return STAKEHOLDER_TYPES
    if column == "owner":
        return tuple(r["username"] for r in workspace.query("SELECT username FROM users ORDER BY username"))
    return ()


#: the stored words shown as labels (a stage "marketing_qualified" reads "Marketing qualified"); owners are names
_WORDED_COLUMNS = {"lifecycle_stage", "stakeholder_type"}


def choice_labels(f: Field | None) -> dict[str, str]:
    """A choice field's stored codes and the labels people read, by code (empty for other fields)."""
    from crm_workspace.web.display import label

    if f is None or f.column not in _WORDED_COLUMNS:
        return {}
    return {code: label(code) for code in f.choices}


def _columns(workspace: Workspace, table: str) -> dict[str, str] | None:
    try:
        return workspace.store.columns(table)
    except NotFound:
        return None


def _contact_field(workspace: Workspace, column: str, declared: str) -> Field:
    if column == "marketing_consent":
        return Field(column, "Marketing consent", "consent", "contacts", column, tuple(CONSENT_VALUES))
    if column in _CHOICE_COLUMNS:
        return Field(column, _label(column), "choice", "contacts", column, _choices(workspace, column))
    return Field(column, _label(column), _kind(column, declared), "contacts", column)


def resolve(workspace: Workspace, key: str) -> Field:
    """The field a filter names, or ``FieldGone`` saying what is missing."""
    key = str(key or "").strip()
    if not key:
        raise FilterError("a condition needs a field")
    if key == "consent":
        key = "marketing_consent"
    if key == "tags":
        if _columns(workspace, "contact_tags") is None:
            raise FieldGone("tags are not available (no contact_tags table: is the contacts module installed?)")
        return Field("tags", "Tags", "tags", "tags", "tag", tuple(_tags(workspace)))
    if key == "last_activity":
        return Field("last_activity", "Last activity", "date", "activities", "occurred_at")
    if key == "email_engagement":
        return Field(
            "email_engagement",
            "E-mail engagement",
            "engagement",
            "events",
            "kind",
            (ANY_CAMPAIGN, ANY_EMAIL, *_campaigns(workspace)),
        )
    prefix, _, rest = key.partition(".")
    if rest and prefix == "organization":
        columns = _columns(workspace, "organizations") or {}
        if rest not in columns or rest in _HIDDEN:
            raise FieldGone(f"organizations have no field '{rest}' (any more)")
        kind = "choice" if rest == "owner" else _kind(rest, columns[rest])
        return Field(
            key, f"Organization {_label(rest).lower()}", kind, "organizations", rest, _choices(workspace, rest)
        )
    if rest and prefix == "custom":
        if _columns(workspace, "excel_custom_fields") is None or not workspace.store.scalar(
            "SELECT 1 FROM excel_custom_fields WHERE table_name = 'contacts' AND name = ? LIMIT 1", [rest]
        ):
            raise FieldGone(f"the custom field '{rest}' no longer exists on any contact")
        return Field(key, rest, "text", "custom", rest)
    if rest and prefix == "lead_score":
        columns = _columns(workspace, "lead_scores")
        if columns is None:
            raise FieldGone("lead scores are not available (no lead_scores table: is the scoring module installed?)")
        if rest not in columns or rest == "contact_id":
            raise FieldGone(f"lead scores have no field '{rest}' (any more)")
        return Field(key, f"Lead score: {_label(rest).lower()}", _kind(rest, columns[rest]), "lead_scores", rest)
    columns = workspace.store.columns("contacts")
    if key not in columns or key in _HIDDEN:
        raise FieldGone(f"contacts have no field '{key}' (any more)")
    return _contact_field(workspace, key, columns[key])


def _campaigns(workspace: Workspace) -> list[str]:
    return [r["name"] for r in workspace.query("SELECT name FROM campaigns ORDER BY id DESC LIMIT 50")]


def _tags(workspace: Workspace) -> list[str]:
    return [r["tag"] for r in workspace.query("SELECT DISTINCT tag FROM contact_tags ORDER BY tag LIMIT 500")]


def catalog(workspace: Workspace) -> list[Field]:
    """Every field a segment can filter on in this workspace, for the filter builder."""
    out = [
        _contact_field(workspace, column, declared)
        for column, declared in workspace.store.columns("contacts").items()
        if column not in _HIDDEN
    ]
    out.append(Field("last_activity", "Last activity", "date", "activities", "occurred_at"))
    out.append(resolve(workspace, "email_engagement"))
    if _columns(workspace, "contact_tags") is not None:
        out.append(resolve(workspace, "tags"))
    for column, declared in (_columns(workspace, "organizations") or {}).items():
        if column not in _HIDDEN and column != "id":
            kind = "choice" if column == "owner" else _kind(column, declared)
            label = f"Organization {_label(column).lower()}"
            out.append(
                Field(f"organization.{column}", label, kind, "organizations", column, _choices(workspace, column))
            )
    if _columns(workspace, "excel_custom_fields") is not None:
        names = workspace.query(
            "SELECT DISTINCT name FROM excel_custom_fields WHERE table_name = 'contacts' ORDER BY name LIMIT 200"
        )
        out.extend(Field(f"custom.{r['name']}", r["name"], "text", "custom", r["name"]) for r in names)
    for column, declared in (_columns(workspace, "lead_scores") or {}).items():
        if column != "contact_id":
            label = f"Lead score: {_label(column).lower()}"
            out.append(Field(f"lead_score.{column}", label, _kind(column, declared), "lead_scores", column))
    return out
