"""Signed links (unsubscribe, open pixel, click), the team's machine-event rules, and recording events.

A token signs what it names (campaign, contact, link position); nothing in a request is
trusted beyond it. Every event is kept as it came (time, address, user agent); the team's
rules (settings ``marketing_machine_seconds`` and ``marketing_scanner_agents``) mark the ones
no person made (a security scanner fetching every link on delivery, a proxy prefetching the
pixel). Machine events never count, never unsubscribe (only the one-click POST does), and
leave nothing on the timeline. A person's first open of a campaign, each new link they click,
and an unsubscribe become an ``email`` activity on the contact's timeline.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from crm_workspace import Setting
from crm_workspace.core_rules import record_consent
from crm_workspace.data.store import utcnow

from .core import public_url, sign, unsign

if TYPE_CHECKING:
    from crm_workspace import Workspace

UNSUBSCRIBE, OPEN, CLICK, CONFIRM = "marketing.unsubscribe", "marketing.open", "marketing.click", "marketing.confirm"
#: A signed link naming its own target URL (mail without a campaign, e.g. a sequence step).
LINK = "marketing.mlink"
#: A signed token in a URL path (URL-safe base64, a dot, the signature).
TOKEN = r"([A-Za-z0-9_\-=]+\.[A-Za-z0-9_\-=]+)"
DEFAULT_MACHINE_SECONDS = 5
DEFAULT_SCANNERS = (
    r"bot\b",
    r"crawler",
    r"spider",
    r"barracuda",
    r"mimecast",
    r"proofpoint",
    r"symantec|messagelabs",
    r"trend ?micro",
    r"safelinks|microsoft office protocol",
    r"python-requests|python-urllib|curl/|wget/|go-http-client|java/",
    r"headless",
)
DEFAULT_LINK_DAYS = 365


# ----------------------------------------------------------------- settings
def _seconds(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 3600:
        raise ValueError(f"must be a number of seconds between 0 and 3600, not {value!r}")
    return int(value)


def _patterns(value: Any) -> list[str]:
    if not isinstance(value, list | tuple) or not all(isinstance(p, str) and p.strip() for p in value):
        raise ValueError("must be a list of user-agent patterns (regular expressions, case ignored)")
    for pattern in value:
        try:
            re.compile(pattern, re.IGNORECASE)
        except re.error as error:
            raise ValueError(f"{pattern!r} is not a valid pattern: {error}") from None
    return [p.strip() for p in value]


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, not {value!r}")
    return value


def _days(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 3650:
        raise ValueError(f"must be a whole number of days between 1 and 3650, not {value!r}")
    return value


SETTINGS = [
    Setting(
        "marketing_machine_seconds",
        _seconds,
        DEFAULT_MACHINE_SECONDS,
        admin_only=False,
        doc="Opens and clicks this many seconds after delivery or sooner are machines (scanners), not people.",
    ),
    Setting(
        "marketing_scanner_agents",
        _patterns,
        list(DEFAULT_SCANNERS),
        admin_only=False,
        doc="User agents (regular expressions) of known scanners: their opens and clicks never count.",
    ),
    Setting(
        "marketing_click_qualifies",
        _flag,
        True,
        doc="A person's click in a campaign moves a subscriber or lead to marketing-qualified.",
    ),
    Setting(
        "marketing_link_days",
        _days,
        DEFAULT_LINK_DAYS,
        doc="Days an open or click link of a campaign stays valid (unsubscribe links never expire).",
    ),
]


# ------------------------------------------------------------------- tokens
class Signer:
    """Makes a batch's signed links with the settings read ONCE (``public_url``, ``marketing_link_days``).

    A campaign of N links per message used to read settings ~N+3 times per recipient;
    ``signer(workspace)`` once per batch and its methods per message. (The signing key
    itself is cached by the core's ``sign``.)
    """

    __slots__ = ("age", "base", "workspace")

    def __init__(self, workspace: Workspace):
        self.workspace = workspace
        self.base = public_url(workspace, "")
        self.age = _link_age(workspace)

    def _url(self, path: str) -> str:
        return f"{self.base}/{path.lstrip('/')}"

    def unsubscribe_url(self, campaign_id: int | None, contact_id: int | None, *, test=False) -> str:
        data = {"c": campaign_id, "k": contact_id} | ({"t": 1} if test else {})
        return self._url(f"/m/u/{sign(self.workspace, UNSUBSCRIBE, data)}")

    def open_url(self, campaign_id: int | None, contact_id: int, *, ref: str | None = None) -> str:
        data = {"c": campaign_id, "k": contact_id} | ({"r": ref} if ref else {})
        return self._url(f"/m/o/{sign(self.workspace, OPEN, data, max_age=self.age)}.gif")

    def click_url(self, campaign_id: int, contact_id: int, position: int) -> str:
        data = {"c": campaign_id, "k": contact_id, "l": position}
        return self._url(f"/m/c/{sign(self.workspace, CLICK, data, max_age=self.age)}")

    def link_url(self, ref: str, contact_id: int, url: str) -> str:
        """A click link for mail without a campaign: the token signs the target URL itself and a
        ``ref`` (e.g. ``seq:<enrollment>:<step>``), so the redirect only goes where the mail said."""
        data = {"r": ref, "k": contact_id, "u": url}
        return self._url(f"/m/l/{sign(self.workspace, LINK, data, max_age=self.age)}")


def signer(workspace: Workspace) -> Signer:
    return Signer(workspace)


def _link_age(workspace: Workspace) -> int:
    return int(workspace.setting("marketing_link_days", DEFAULT_LINK_DAYS) or DEFAULT_LINK_DAYS) * 86400


def unsubscribe_url(workspace: Workspace, campaign_id: int | None, contact_id: int | None, *, test=False) -> str:
    return Signer(workspace).unsubscribe_url(campaign_id, contact_id, test=test)


def open_url(workspace: Workspace, campaign_id: int | None, contact_id: int, *, ref: str | None = None) -> str:
    return Signer(workspace).open_url(campaign_id, contact_id, ref=ref)


def click_url(workspace: Workspace, campaign_id: int, contact_id: int, position: int) -> str:
    return Signer(workspace).click_url(campaign_id, contact_id, position)


def link_url(workspace: Workspace, ref: str, contact_id: int, url: str) -> str:
    """A signed click link naming its own URL (see ``Signer.link_url``)."""
    return Signer(workspace).link_url(ref, contact_id, url)


def read_token(workspace: Workspace, purpose: str, token: str) -> dict[str, Any]:
    """What a token names; ``BadSignature`` (a CrmError) for a changed, foreign or expired one."""
    return unsign(workspace, purpose, token)


# ------------------------------------------------------------------ machines
def machine_reason(
    workspace: Workspace, *, campaign_id, contact_id, user_agent: str, at: str, ref: str | None = None
) -> str | None:
    """Why the team's rules say no person made this event, or None for a person."""
    agent = (user_agent or "").strip()
    if not agent:
        return "no user agent"
    for pattern in workspace.setting("marketing_scanner_agents", list(DEFAULT_SCANNERS)) or []:
        if re.search(pattern, agent, re.IGNORECASE):
            return f"scanner user agent ({pattern})"
    seconds = int(workspace.setting("marketing_machine_seconds", DEFAULT_MACHINE_SECONDS) or 0)
    key = f"campaign:{campaign_id}:{contact_id}" if campaign_id and contact_id else ref
    if seconds and key:
        sent = workspace.store.scalar("SELECT sent_at FROM mail_outbox WHERE key = ? AND sent_at IS NOT NULL", [key])
        if sent and _between(sent, at) <= seconds:
            return f"within {seconds} s of delivery"
    return None


def _between(earlier: str, later: str) -> float:
    def parse(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)

    return (parse(later) - parse(earlier)).total_seconds()


# ------------------------------------------------------------------- events
def record_event(
    workspace: Workspace,
    kind: str,
    *,
    campaign_id: int | None,
    contact_id: int | None,
    url: str | None = None,
    ip: str = "",
    user_agent: str = "",
    at: str | None = None,
    machine: str | None = None,
    form_id: int | None = None,
    ref: str | None = None,
) -> dict[str, Any]:
    """Keep one event; a person's (``machine`` None after the rules ran) also lands on the timeline."""
    at = at or utcnow()
    if machine is None and kind in ("open", "click"):
        machine = machine_reason(
            workspace, campaign_id=campaign_id, contact_id=contact_id, user_agent=user_agent, at=at, ref=ref
        )
    variant = None
    if campaign_id and contact_id:
        variant = workspace.store.scalar(
            "SELECT variant FROM campaign_recipients WHERE campaign_id = ? AND contact_id = ?",
            [campaign_id, contact_id],
        )
    with workspace.store.transaction():
        first = not machine and _first(workspace, kind, campaign_id, contact_id, url, ref)
        event = workspace.store.insert(
            "marketing_events",
            {
                "at": at,
                "contact_id": contact_id,
                "campaign_id": campaign_id,
                "variant": variant,
                "kind": kind,
                "url": url,
                "ip": ip[:64] or None,
                "user_agent": (user_agent or "")[:400] or None,
                "machine": int(bool(machine)),
                "reason": machine or None,
                "form_id": form_id,
                "ref": ref,
            },
        )
        if first and contact_id:
            _activity(workspace, kind, campaign_id, contact_id, url, at, ref)
        if kind == "click" and not machine and contact_id:
            _qualify(workspace, contact_id)
    return event


def _qualify(workspace: Workspace, contact_id: int) -> None:
    """The lifecycle rule the team can turn off: a click makes a subscriber or lead marketing-qualified."""
    if not workspace.setting("marketing_click_qualifies", True):
        return
    stage = workspace.store.scalar("SELECT lifecycle_stage FROM contacts WHERE id = ?", [contact_id])
    if stage in ("subscriber", "lead") and "marketing_qualified" in workspace.lifecycle_stages():
        workspace.store.update("contacts", contact_id, {"lifecycle_stage": "marketing_qualified"})


def _first(workspace: Workspace, kind: str, campaign_id, contact_id, url, ref=None) -> bool:
    """Whether this is the person's first such event (an open per campaign or mail, a click per link)."""
    if kind not in ("open", "click") or not contact_id:
        return True
    sql = (
        "SELECT 1 FROM marketing_events WHERE kind = ? AND campaign_id IS ? AND ref IS ? AND contact_id = ?"
        " AND machine = 0"
    )
    params = [kind, campaign_id, ref, contact_id]
    if kind == "click":
        sql += " AND url IS ?"
        params.append(url)
    return not workspace.store.scalar(sql + " LIMIT 1", params)


_SUBJECTS = {
    "open": "Opened “{}”",
    "click": "Clicked a link in “{}”",
    "unsubscribe": "Unsubscribed via “{}”",
}


def _activity(workspace: Workspace, kind: str, campaign_id, contact_id: int, url, at: str, ref=None) -> None:
    name = workspace.store.scalar("SELECT name FROM campaigns WHERE id = ?", [campaign_id]) if campaign_id else None
    if kind in _SUBJECTS:
        subject = _SUBJECTS[kind].format(name or ("a sequence e-mail" if ref else "a campaign"))
    else:
        return
    workspace.store.insert(
        "activities",
        {
            "kind": "email",
            "channel": "email",
            "subject": subject,
            "body": url,
            "contact_id": contact_id,
            "occurred_at": at,
            "done": 1,
        },
    )


def unsubscribe(workspace: Workspace, campaign_id: int | None, contact_id: int, *, ip="", user_agent="") -> bool:
    """The one-click (or confirmed) unsubscribe: consent withdrawn with its source; False if it already was."""
    contact = workspace.store.get("contacts", contact_id)
    with workspace.store.transaction():
        if contact.get("marketing_consent") == 0:
            return False
        record_consent(workspace, contact_id, False, source="unsubscribe link")
        record_event(
            workspace,
            "unsubscribe",
            campaign_id=campaign_id,
            contact_id=contact_id,
            ip=ip,
            user_agent=user_agent,
            machine="",
        )
    return True
