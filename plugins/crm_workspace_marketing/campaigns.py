"""Campaigns: the message, its audience, its A/B test settings, and who may receive it.

The audience of a campaign is its segment's members who gave marketing consent (and did
not withdraw it: an unsubscribe withdraws it), whose address is not suppressed (a hard
bounce, repeated soft bounces), who were not erased (no consent, no address left), each
address once, and not already queued for this campaign (so a resumed send adds nobody twice).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from crm_workspace import CrmError, NotFound
from crm_workspace.data.fields import BadValue, find_email

from .core import TemplateProblem
from .mailable import mailable_sql
from .render import render_parts, sample_context

if TYPE_CHECKING:
    from crm_workspace import Workspace

STATUSES = ("draft", "sending", "sent")
METRICS = ("opens", "clicks", "revenue")
CONTENT = ("subject", "html", "text", "sender", "reply_to", "segment_id", "ab")

#: Who may receive campaign ``?`` (twice: the campaign id) among segment ``?``'s members.
AUDIENCE_SQL = f"""
SELECT min(c.id) AS contact_id, lower(c.email) AS email
FROM segment_members m JOIN contacts c ON c.id = m.contact_id
WHERE m.segment_id = :segment AND {mailable_sql("c")}
  AND c.id NOT IN (SELECT contact_id FROM campaign_recipients WHERE campaign_id = :campaign)
  AND lower(c.email) NOT IN (SELECT email FROM campaign_recipients WHERE campaign_id = :campaign
                             AND email IS NOT NULL)
GROUP BY lower(c.email)
ORDER BY contact_id
"""


def get_campaign(workspace: Workspace, campaign: str | int) -> dict[str, Any]:
    """A campaign by name (any case) or id; ``NotFound`` naming the campaigns there are."""
    if isinstance(campaign, int) or str(campaign).isdigit():
        rows = workspace.query("SELECT * FROM campaigns WHERE id = ?", [int(campaign)])
    else:
        rows = workspace.query("SELECT * FROM campaigns WHERE name = ? COLLATE NOCASE", [str(campaign).strip()])
    if not rows:
        names = [r["name"] for r in workspace.query("SELECT name FROM campaigns ORDER BY id DESC LIMIT 20")]
        raise NotFound(f"no campaign named '{campaign}' (campaigns: {', '.join(names) or 'none yet'})")
    return rows[0]


def ab_config(row: dict[str, Any]) -> dict[str, Any] | None:
    """The campaign's A/B test as a dict (``variants``, ``share``, ``metric``, ``wait_hours``, ``phase`` ...) or None."""
    if not row.get("ab"):
        return None
    ab = json.loads(row["ab"]) if isinstance(row["ab"], str) else dict(row["ab"])
    return ab if ab.get("variants") else None


def variants(row: dict[str, Any]) -> list[dict[str, str]]:
    """Every version of the message: variant 0 is the campaign's own, then the A/B test's (missing parts inherited)."""
    base = {"subject": row.get("subject") or "", "html": row.get("html") or "", "text": row.get("text") or ""}
    ab = ab_config(row)
    return [base] + [
        {**base, **{k: v for k, v in variant.items() if k in base and v}} for variant in (ab or {}).get("variants", [])
    ]


def audience(workspace: Workspace, campaign: dict[str, Any], limit: int | None = None) -> list[dict[str, Any]]:
    """Who would receive ``campaign`` now (not yet queued for it), one row per address."""
    if not campaign.get("segment_id"):
        raise CrmError(f"campaign '{campaign['name']}' has no segment: choose who receives it")
    sql = AUDIENCE_SQL + (f" LIMIT {int(limit)}" if limit is not None else "")
    return workspace.query(sql, {"segment": campaign["segment_id"], "campaign": campaign["id"]})


def audience_count(workspace: Workspace, campaign: dict[str, Any]) -> int:
    if not campaign.get("segment_id"):
        return 0
    return int(
        workspace.store.scalar(
            f"SELECT count(*) FROM ({AUDIENCE_SQL})", {"segment": campaign["segment_id"], "campaign": campaign["id"]}
        )
        or 0
    )


# ----------------------------------------------------------------- writing
def _clean_ab(value: Any) -> str | None:
    if value in (None, "", {}, "null"):
        return None
    ab = json.loads(value) if isinstance(value, str) else dict(value)
    found = ab.get("variants") or []
    if not isinstance(found, list) or not 1 <= len(found) <= 3:
        raise ValueError("an A/B test has two to four versions: the campaign's own and one to three variants")
    if not all(isinstance(v, dict) and any(v.get(k) for k in ("subject", "html", "text")) for v in found):
        raise ValueError("each variant changes the subject, the HTML or the text")
    share = float(ab.get("share", 0.2))
    if not 0 < share <= 0.5:
        raise ValueError(f"the test share is between 0 and 50% of the audience, not {share:.0%}")
    metric = ab.get("metric", "opens")
    if metric not in METRICS:
        raise ValueError(f"the winner is picked by {' or '.join(METRICS)}, not {metric!r}")
    hours = float(ab.get("wait_hours", 4))
    if not 0 <= hours <= 24 * 14:
        raise ValueError("the wait before picking the winner is between 0 hours and 14 days")
    clean = {
        "variants": [{k: str(v[k]) for k in ("subject", "html", "text") if v.get(k)} for v in found],
        "share": share,
        "metric": metric,
        "wait_hours": hours,
    }
    for kept in ("phase", "test_started_at", "winner", "decided_at", "results", "rest_queued"):
        if kept in ab:
            clean[kept] = ab[kept]
    return json.dumps(clean, ensure_ascii=False, separators=(",", ":"))


def validate_campaign(workspace: Workspace, record: dict, before: dict | None) -> dict[str, str]:
    """A name, a known status and segment, templates that compile, a valid sender, a sound A/B test."""
    errors: dict[str, str] = {}
    if "name" in record or before is None:
        record["name"] = " ".join(str(record.get("name") or "").split())
        if not record["name"]:
            errors["name"] = "a campaign needs a name"
    status = record.get("status", (before or {}).get("status") or "draft")
    if status not in STATUSES:
        errors["status"] = f"a campaign is {', '.join(STATUSES)}, not {status!r}"
    if before is None:
        record["status"] = status
    if before is not None and before.get("status") != "draft" and any(k in record for k in CONTENT if k != "ab"):
        errors["status"] = f"'{before['name']}' is {before['status']}: its message and audience can no longer change"
    segment = record.get("segment_id")
    if segment not in (None, "") and not workspace.store.scalar("SELECT 1 FROM segments WHERE id = ?", [segment]):
        errors["segment_id"] = f"no segment #{record['segment_id']}"
    for field in ("sender", "reply_to"):
        if record.get(field):
            try:
                find_email(str(record[field]))
            except BadValue as error:
                errors[field] = str(error)
    if "ab" in record:
        try:
            record["ab"] = _clean_ab(record["ab"])
            if before is not None and before.get("status") != "draft":
                old, new = (json.loads(v) if v else {} for v in (before.get("ab"), record["ab"]))
                if any(old.get(k) != new.get(k) for k in ("variants", "share", "metric", "wait_hours")):
                    errors["ab"] = f"'{before['name']}' is {before['status']}: its A/B test can no longer change"
        except (ValueError, TypeError, json.JSONDecodeError) as error:
            errors["ab"] = str(error)
    if not errors and any(k in record for k in ("subject", "html", "text", "ab")):
        merged = {**(before or {}), **record}
        for number, version in enumerate(variants(merged)):
            try:
                render_parts(version["subject"], version["html"], version["text"], sample_context())
            except TemplateProblem as problem:
                field = (
                    "ab"
                    if number
                    else next((p for p in ("subject", "html", "text") if p in str(problem).lower()), "html")
                )
                errors.setdefault(field, f"{'variant ' + chr(65 + number) + ': ' if number else ''}{problem}")
    return errors


def save_campaign(
    workspace: Workspace, fields: dict[str, Any], campaign_id: int | None = None, version: int | None = None
) -> dict[str, Any]:
    """Create a campaign (a draft) or change one against ``version``."""
    record = {k: v for k, v in fields.items() if k in ("name", *CONTENT, "per_minute")}
    if isinstance(record.get("segment_id"), str) and not record["segment_id"].isdigit():
        from .segments import get_segment

        record["segment_id"] = get_segment(workspace, record["segment_id"])["id"]
    if campaign_id is None:
        record.setdefault("owner", workspace.user)
        return workspace.store.insert("campaigns", record)
    return workspace.store.update("campaigns", campaign_id, record, version=version)


def list_campaigns(workspace: Workspace) -> list[dict[str, Any]]:
    return workspace.query(
        "SELECT c.id, c.name, c.status, c.subject, s.name AS segment, c.started_at, c.sent_at, c.ab IS NOT NULL AS ab_test"
        " FROM campaigns c LEFT JOIN segments s ON s.id = c.segment_id ORDER BY coalesce(c.started_at, c.created_at) DESC"
    )
