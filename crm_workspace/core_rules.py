"""The core tables' rules, written as a plugin like any other.

Validation of the shared tables' vocabulary (and of marketing consent on
contacts), the settings the core owns and the check of every setting write,
the personal data the core tables hold, and the consented audience view.
Modules validate and declare their own tables and settings through the same hooks.
"""

from __future__ import annotations

import json
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from crm_workspace.data import checks, fields, mail_settings, permissions, schema
from crm_workspace.data.store import utcnow
from crm_workspace.errors import CrmError
from crm_workspace.hookspecs import hookimpl
from crm_workspace.types import ApiResource, PersonalData, Setting

#: The filter of every list meant for marketing: consent given and not withdrawn.
CONSENTED_SQL = "marketing_consent = 1"
#: A contact's own fields that hold their personal data (erased by ``crm privacy erase``).
CONTACT_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "title",
    "notes",
    "source",
    "consent_source",
    "marketing_consent",
    "consent_at",
)
_TRUE = {"1", "true", "yes", "y", "given", "opt-in", "opt_in"}
_FALSE = {"0", "false", "no", "n", "withdrawn", "opt-out", "opt_out"}


@hookimpl(trylast=True)
def crm_validate_record(workspace, table: str, record: dict, before: dict | None) -> dict[str, str] | None:
    errors: dict[str, str] = {}
    checks.strip_text(record)
    if table == "organizations":
        checks.required(record, before, "name", errors)
    elif table == "contacts":
        if before is None and checks.blank(record.get("first_name")) and checks.blank(record.get("last_name")):
            errors["last_name"] = "a contact needs a first or last name"
        checks.choice(record, "stakeholder_type", schema.STAKEHOLDER_TYPES, errors)
        if "lifecycle_stage" in record and not checks.blank(record["lifecycle_stage"]):
            checks.choice(record, "lifecycle_stage", workspace.lifecycle_stages(), errors)
        validate_consent(record, before, errors)
    elif table == "activities":
        checks.required(record, before, "kind", errors)
        checks.choice(record, "kind", schema.ACTIVITY_KINDS, errors)
        checks.choice(record, "channel", schema.CHANNELS, errors)
        checks.date(record, "occurred_at", errors)
        checks.date(record, "due_at", errors)
    elif table == "users":
        checks.choice(record, "role", schema.ROLES, errors)
        if "username" in record:
            try:
                permissions.check_username(str(record["username"] or ""))
            except CrmError as error:
                errors["username"] = str(error)
    elif table == "settings":
        validate_setting(workspace, record, before, errors)
    elif table == "mail_outbox":
        checks.choice(record, "status", schema.OUTBOX_STATUSES, errors)
    return errors or None


# ------------------------------------------------------------------ settings
def _stage_list(value: Any) -> list[str]:
    if not isinstance(value, list | tuple) or not value:
        raise ValueError(f"must be a non-empty list of stage names, not {value!r}")
    if not all(isinstance(stage, str) and stage.strip() for stage in value):
        raise ValueError("every stage needs a non-empty name")
    stages = [stage.strip() for stage in value]
    twice = sorted({stage for stage in stages if stages.count(stage) > 1})
    if twice:
        raise ValueError(f"listed twice: {', '.join(twice)}")
    return stages


def _phone_region(value: Any) -> str:
    import phonenumbers

    region = value.strip().upper() if isinstance(value, str) else value
    if not isinstance(region, str) or region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"must be a 2-letter region code such as US or DE, not {value!r}")
    return region


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, not {value!r}")
    return value


#: Where people reach the served app (``public_url`` setting): the base of every link a plugin mails out.
DEFAULT_PUBLIC_URL = "http://localhost:5006"
#: How often ``crm serve`` runs the plugins' ticks (``tick_seconds`` setting), and its bounds.
DEFAULT_TICK_SECONDS = 30
TICK_SECONDS_RANGE = (5, 86_400)


def check_public_url(value: Any) -> str:
    """``value`` as the app's public base URL (http or https, a host, no query), without a trailing slash."""
    from urllib.parse import urlsplit

    if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value.strip()):
        raise ValueError(f"must be an http(s) address such as https://crm.example.com, not {value!r}")
    url = value.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an http(s) address such as https://crm.example.com, not {value!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"must be a plain base address (no query, fragment or credentials), not {value!r}")
    try:
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError as error:
        raise ValueError(f"has a bad port: {value!r}") from error
    return url.rstrip("/")


def check_tick_seconds(value: Any) -> int:
    low, high = TICK_SECONDS_RANGE
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise ValueError(f"must be a whole number of seconds, not {value!r}")
    if not low <= value <= high:
        raise ValueError(f"must be between {low} and {high} seconds, not {value}")
    return int(value)


@hookimpl
def crm_settings() -> list[Setting]:
    """The settings the core reads."""
    return [
        Setting(
            "lifecycle_stages",
            _stage_list,
            list(schema.LIFECYCLE_STAGES),
            doc="The ordered lifecycle stages a contact may be in.",
        ),
        Setting(
            fields.PHONE_REGION_SETTING,
            _phone_region,
            fields.DEFAULT_PHONE_REGION,
            doc="The region a phone number without a country code is read in.",
        ),
        Setting(
            "members_edit_all", _flag, True, doc="Members may edit every record (false: only their own or unowned)."
        ),
        Setting(
            "public_url",
            check_public_url,
            DEFAULT_PUBLIC_URL,
            doc="The address people reach the served app at: the base of links in mail (tracking, unsubscribe).",
        ),
        Setting(
            "tick_seconds",
            check_tick_seconds,
            DEFAULT_TICK_SECONDS,
            doc="Seconds between two runs of the plugins' periodic work (crm_tick) while `crm serve` runs.",
        ),
        *mail_settings.SETTINGS,
    ]


def validate_setting(workspace, record: dict[str, Any], before: dict | None, errors: dict[str, str]) -> None:
    """Check a write to the ``settings`` table against its declaration, and store the cleaned value."""
    declared = workspace.store.settings.declared()
    if declared is None:
        return
    key = record.get("key") or (before or {}).get("key")
    setting = declared.get(key)
    if setting is None:
        errors[str(key)] = "unknown setting: no plugin declares it"
        return
    if "value" not in record:
        return
    try:
        value = json.loads(record["value"]) if isinstance(record["value"], str) else record["value"]
        record["value"] = json.dumps(setting.clean(value))
    except ValueError as error:  # json.JSONDecodeError is one
        errors[key] = str(error)


# ------------------------------------------------------------------- consent
#: True while the explicit consent action writes: the only write that may re-grant a withdrawal.
_explicit_consent: ContextVar[bool] = ContextVar("explicit_consent", default=False)


def consent_value(value: Any) -> int | None:
    """``value`` as stored consent: 1 given, 0 withdrawn, None never asked; ValueError if it is none of them."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or (isinstance(value, int | float) and value in (0, 1)):
        return int(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return int(value.strip().lower() in _TRUE)
    raise ValueError(f"must be yes/no (1/0), not {value!r}")


def regrant_refused(record: dict[str, Any], before: dict | None) -> str | None:
    """Why writing ``record`` over ``before`` may not set consent, or None.

    A withdrawal (0) is re-granted only by ``record_consent`` (the explicit consent
    action, with a source and a time): an import, a bulk or an ordinary update may
    give consent for a contact who never answered (NULL), never after a withdrawal.
    """
    if before is None or "marketing_consent" not in record or _explicit_consent.get():
        return None
    try:
        wanted = consent_value(record["marketing_consent"])
    except ValueError:
        return None
    if wanted == 1 and consent_value(before.get("marketing_consent")) == 0:
        when = f" on {before['consent_at']}" if before.get("consent_at") else ""
        return (
            f"consent was withdrawn{when}; only an explicit consent action re-grants it "
            f"(crm_workspace.core_rules.record_consent, with a source)"
        )
    return None


def record_consent(workspace, contact_id: int, given: bool, source: str, at: str | None = None) -> dict[str, Any]:
    """The explicit consent action: give or withdraw ``contact_id``'s marketing consent, saying where and when.

    The only write that may re-grant consent the contact withdrew; ``source`` (the
    form, the email, the event) and ``at`` (ISO time, default now) are stored with it.
    """
    if not str(source or "").strip():
        raise CrmError("a consent change needs its source (the form, email or event it came from)")
    token = _explicit_consent.set(True)
    try:
        return workspace.store.update(
            "contacts",
            contact_id,
            {
                "marketing_consent": int(bool(given)),
                "consent_source": str(source).strip(),
                "consent_at": at or utcnow(),
            },
        )
    finally:
        _explicit_consent.reset(token)


def validate_consent(record: dict[str, Any], before: dict | None, errors: dict[str, str]) -> None:
    """Normalize ``marketing_consent`` to 1/0/None and stamp ``consent_at`` when it changes.

    Consent lives on the contact: ``marketing_consent`` (1 given, 0 withdrawn,
    NULL never asked), ``consent_at`` (now, when consent changes and no date is
    given) and ``consent_source`` (web form, event, import ...). A withdrawal is
    re-granted only by ``record_consent`` (see ``regrant_refused``).
    """
    if "marketing_consent" in record:
        try:
            record["marketing_consent"] = consent_value(record["marketing_consent"])
        except ValueError as error:
            errors["marketing_consent"] = str(error)
            return
        refused = regrant_refused(record, before)
        if refused:
            errors["marketing_consent"] = refused
            return
        changed = before is None or before.get("marketing_consent") != record["marketing_consent"]
        if changed and record["marketing_consent"] is not None and not record.get("consent_at"):
            record["consent_at"] = utcnow()
    if record.get("consent_at") not in (None, ""):
        text = str(record["consent_at"]).strip()
        try:
            datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            errors["consent_at"] = f"must be an ISO date (YYYY-MM-DD), not {record['consent_at']!r}"
        else:
            record["consent_at"] = text


@hookimpl
def crm_personal_data(workspace) -> list[PersonalData]:
    """The contact's own row, the text of their activities, and the mail the outbox holds for them."""
    return [
        PersonalData("contacts", "id", CONTACT_FIELDS, title="contact"),
        PersonalData("activities", "contact_id", ("subject", "body")),
        PersonalData("mail_outbox", "contact_id", ("recipient", "subject", "message"), title="mail"),
    ]


_AUDIENCE = ("id", "first_name", "last_name", "email", "lifecycle_stage", "consent_at", "consent_source")


def marketing_audience(workspace, limit: int | None = None, offset: int = 0) -> Any:
    """Contacts who gave marketing consent (and not withdrew it): the only ones to market to."""
    import pandas as pd

    sql = (
        f"SELECT {', '.join(_AUDIENCE)} FROM contacts"
        f" WHERE {CONSENTED_SQL} AND email IS NOT NULL AND email != '' ORDER BY id"
    )
    params: list[Any] = []
    if limit is not None:
        sql += " LIMIT ? OFFSET ?"
        params = [int(limit), int(offset)]
    return pd.DataFrame(workspace.store.query(sql, params), columns=list(_AUDIENCE))


@hookimpl
def crm_data_views(workspace) -> dict:
    """``ws.df("privacy.marketing_audience")``: contacts with marketing consent given."""
    return {"privacy.marketing_audience": lambda **filters: marketing_audience(workspace, **filters)}


@hookimpl
def crm_api_resources(workspace) -> list[ApiResource]:
    """The core's shared tables, served by the JSON API when it is installed."""
    return [
        ApiResource("contacts", "contacts", "Contacts", "People: leads, customers and every other stakeholder."),
        ApiResource("organizations", "organizations", "Organizations", "Companies and other organizations."),
        ApiResource("activities", "activities", "Activities", "Calls, e-mails, meetings, notes and tasks."),
    ]
