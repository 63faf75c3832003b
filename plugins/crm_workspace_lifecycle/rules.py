"""Recording transitions, the automatic rules, stage settings and event validation.

Settings (``ws.setting``/``ws.set_setting``):

- ``lifecycle_stages``: the ordered stage list (core validation reads it too).
- ``lifecycle_rules``: ``{"won_deal": {"enabled", "stage"}, "meeting": {"enabled",
  "up_to", "stage"}, "churn_risk": {"enabled", "months"}}``; missing keys take
  the defaults below.

Bad history: an event more than ``CLOCK_SKEW`` in the future is refused; an event
older than the contact's latest recorded event (imported history out of order) is
accepted and *flagged* (``lifecycle_events.flagged`` holds the reason), so the
metrics, which order by ``at``, stay right and the dashboard counts flagged events.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from crm_workspace.errors import ValidationError

CLOCK_SKEW = timedelta(minutes=5)

DEFAULT_RULES: dict[str, dict[str, Any]] = {
    "won_deal": {"enabled": True, "stage": "customer"},
    "meeting": {"enabled": True, "up_to": "lead", "stage": "sales_qualified"},
    "churn_risk": {"enabled": True, "months": 6},
}


def rules(ws) -> dict[str, dict[str, Any]]:
    """The workspace's rule settings merged over the defaults."""
    merged = copy.deepcopy(DEFAULT_RULES)
    stored = ws.setting("lifecycle_rules", {}) or {}
    for name, values in stored.items():
        if name in merged and isinstance(values, dict):
            merged[name].update(values)
    return merged


def set_rules(ws, new: dict[str, dict[str, Any]]) -> None:
    """Validate and save rule settings (unknown rules, stages or bad months refused)."""
    merged = copy.deepcopy(DEFAULT_RULES)
    errors: dict[str, str] = {}
    stages = ws.lifecycle_stages()
    for name, values in new.items():
        if name not in merged:
            errors[name] = f"unknown rule (rules: {', '.join(merged)})"
            continue
        merged[name].update(values)
    for name in ("won_deal", "meeting"):
        if merged[name]["stage"] not in stages:
            errors[f"{name}.stage"] = f"unknown stage {merged[name]['stage']!r}"
    if merged["meeting"]["up_to"] not in stages:
        errors["meeting.up_to"] = f"unknown stage {merged['meeting']['up_to']!r}"
    months = merged["churn_risk"]["months"]
    if not isinstance(months, int) or isinstance(months, bool) or not 1 <= months <= 60:
        errors["churn_risk.months"] = f"must be a whole number of months from 1 to 60, not {months!r}"
    if errors:
        raise ValidationError("settings", errors)
    ws.set_setting("lifecycle_rules", merged)


def stages_in_use(ws) -> set[str]:
    rows = ws.store.query(
        "SELECT lifecycle_stage AS s FROM contacts WHERE lifecycle_stage IS NOT NULL GROUP BY 1"
        " UNION SELECT to_stage FROM lifecycle_events GROUP BY 1"
        " UNION SELECT from_stage FROM lifecycle_events WHERE from_stage IS NOT NULL GROUP BY 1"
    )
    return {row["s"] for row in rows}


def set_stages(ws, stages: list[str]) -> list[str]:
    """Save the ordered stage list; refuses blanks, duplicates and removing a stage in use."""
    cleaned = [str(s).strip() for s in stages if str(s).strip()]
    if not cleaned:
        raise ValidationError("settings", {"lifecycle_stages": "needs at least one stage"})
    duplicates = sorted({s for s in cleaned if cleaned.count(s) > 1})
    if duplicates:
        raise ValidationError("settings", {"lifecycle_stages": f"listed twice: {', '.join(duplicates)}"})
    bad = [s for s in cleaned if not s.replace("_", "").replace("-", "").isalnum()]
    if bad:
        raise ValidationError(
            "settings", {"lifecycle_stages": f"use letters, digits, _ or - in stage names: {', '.join(bad)}"}
        )
    removed = sorted((set(ws.lifecycle_stages()) - set(cleaned)) & stages_in_use(ws))
    if removed:
        raise ValidationError(
            "settings",
            {"lifecycle_stages": f"cannot remove stages still in use by contacts or history: {', '.join(removed)}"},
        )
    ws.set_setting("lifecycle_stages", cleaned)
    return cleaned


# ------------------------------------------------------------ validation
def _parse(value: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def validate_event(ws, record: dict) -> dict[str, str] | None:
    """Refuse an event in the future or with a bad time; flag one older than the contact's latest."""
    if "at" not in record:
        return None
    moment = _parse(record["at"])
    if moment is None:
        return {"at": f"must be an ISO-8601 UTC time (YYYY-MM-DDTHH:MM:SSZ), not {record['at']!r}"}
    if moment > datetime.now(UTC) + CLOCK_SKEW:
        return {"at": f"{record['at']} is in the future: a lifecycle event records a move that happened"}
    record["at"] = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    latest = ws.store.scalar("SELECT max(at) FROM lifecycle_events WHERE contact_id = ?", [record.get("contact_id")])
    if latest and record["at"] < latest and not record.get("flagged"):
        record["flagged"] = f"out of order: earlier than this contact's latest event ({latest})"
    return None


# ------------------------------------------------------------ transitions
def events_for(changes) -> list[dict]:
    """Lifecycle events for contacts whose stage changed (inserted with a stage counts: from NULL).

    A contact re-created by undoing a merge is no new contact: its journey is the one it had
    (its events kept its id), so the restoring insert records nothing.
    """
    events = []
    for change in changes:  # an import announces 100k changes: each looked at once
        if change.table != "contacts" or change.after is None:
            continue
        stage = change.after.get("lifecycle_stage")
        old = change.before.get("lifecycle_stage") if change.before else None
        if not stage or stage == old:
            continue
        if change.action == "insert" and change.context.get("merge_undo"):
            continue
        events.append(
            {"contact_id": change.id, "from_stage": old, "to_stage": stage, "at": change.at, "by": change.user}
        )
    return events


def apply_rules(ws, changes) -> None:
    """The automatic moves: a won deal makes its contact a customer; a meeting qualifies a lead."""
    relevant = [c for c in changes if c.table in ("deals", "activities") and c.after is not None]
    if not relevant:
        return
    config = rules(ws)
    stages = ws.lifecycle_stages()
    moves: dict[int, str] = {}
    won = config["won_deal"]
    if won["enabled"] and won["stage"] in stages:
        for change in relevant:
            if (
                change.table == "deals"
                and change.after.get("status") == "won"
                and change.changed("status")
                and change.after.get("contact_id")
            ):
                moves[change.after["contact_id"]] = won["stage"]
    meeting = config["meeting"]
    if meeting["enabled"] and meeting["stage"] in stages and meeting["up_to"] in stages:
        for change in relevant:
            if change.table == "activities" and change.action == "insert" and change.after.get("kind") == "meeting":
                contact = change.after.get("contact_id")
                if contact and contact not in moves:
                    moves[contact] = ("meeting", meeting["stage"], meeting["up_to"])
    for contact_id, target in moves.items():
        rows = ws.store.query("SELECT lifecycle_stage, version FROM contacts WHERE id = ?", [contact_id])
        if not rows:
            continue
        current = rows[0]["lifecycle_stage"]
        if isinstance(target, tuple):  # the meeting rule: only a lead or earlier moves
            _, stage, up_to = target
            if current not in stages or stages.index(current) > stages.index(up_to):
                continue
        else:  # a won deal: never moves a contact back (an advocate stays an advocate)
            stage = target
            forward = [s for s in stages if s != "churned"]
            if current in forward and forward.index(current) >= forward.index(stage):
                continue
        if current != stage:
            with ws.store.context(rule="lifecycle"):
                ws.store.update("contacts", contact_id, {"lifecycle_stage": stage})
