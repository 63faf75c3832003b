"""Logging imported meetings on the attendees' contacts, in one transaction.

Each occurrence becomes one meeting activity per attendee who is a contact (matched by
e-mail, case-insensitive); team users are the workspace's own people and neither
matched nor reported; anyone else is listed as unknown, never created. The mapping
(UID, RECURRENCE-ID, contact) → activity lives in ``calendar_events``: the same file
imported twice logs each meeting once, a higher SEQUENCE updates the meetings it
logged, and a cancellation (METHOD:CANCEL or STATUS:CANCELLED) marks them cancelled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from crm_workspace.data.store import utcnow

from .icsread import CalendarImportError, Occurrence, read_calendars

if TYPE_CHECKING:
    from crm_workspace import Workspace

#: At most this many meetings written by one import (a file that would log more is refused whole).
MAX_MEETINGS = 5000
_ONLINE = ("zoom.us", "meet.google", "teams.microsoft", "webex", "whereby", "jitsi", "http://", "https://")
_CANCELLED = "Cancelled: "


@dataclass
class ImportResult:
    events: int = 0
    occurrences: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    cancelled: int = 0
    unmatched: list[str] = field(default_factory=list)  # meetings with no attendee who is a contact
    unknown: dict[str, str] = field(default_factory=dict)  # address -> name
    warnings: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [
            f"{self.events} events ({self.occurrences} meetings after expanding series): "
            f"{self.created} logged, {self.updated} updated, {self.unchanged} unchanged, {self.cancelled} cancelled"
        ]
        out += [f"warning: {w}" for w in self.warnings]
        if self.unmatched:
            shown = ", ".join(self.unmatched[:10]) + (" …" if len(self.unmatched) > 10 else "")
            out.append(f"not logged (no attendee is a contact): {shown}")
        if self.unknown:
            out.append(f"{len(self.unknown)} unknown attendees (not created as contacts):")
            out += [f"  {addr}" + (f" ({name})" if name else "") for addr, name in sorted(self.unknown.items())[:50]]
            if len(self.unknown) > 50:
                out.append(f"  … and {len(self.unknown) - 50} more")
        return out


def import_calendar(
    workspace: Workspace, data: bytes, filename: str = "", *, source: str = "file", now: datetime | None = None
) -> ImportResult:
    """Import an .ics file (or an e-mail with invitations): meetings on the attendees' contacts."""
    reading = read_calendars(data, filename, now)
    result = ImportResult(events=reading.events, occurrences=len(reading.occurrences), warnings=reading.warnings)
    store = workspace.store
    emails = sorted({email for occ in reading.occurrences for email, _ in occ.people})
    team = _team_emails(workspace)
    contacts = _contacts_by_email(workspace, [e for e in emails if e not in team])
    with store.transaction():
        existing = _existing(workspace, sorted({occ.uid for occ in reading.occurrences}))
        inserts: list[tuple[Occurrence, dict, dict]] = []
        updates: list[tuple[int, dict, int | None]] = []
        link_updates: list[tuple[int, dict, int | None]] = []
        planned: set[tuple[str, str, int]] = set()
        for occ in reading.occurrences:
            matched = [(e, contacts[e]) for e, _ in occ.people if e in contacts]
            for email, name in occ.people:
                if email not in contacts and email not in team:
                    result.unknown.setdefault(email, name)
            if not matched:
                result.unmatched.append(occ.summary or occ.uid)
                continue
            owner = _owner(workspace, occ, team)
            for _email, contact in matched:
                key = (occ.uid, occ.recurrence_id, contact["id"])
                if key in planned:  # the same event twice in one file
                    continue
                planned.add(key)
                link = existing.get(key)
                if link is not None and link["subject"] is None:  # a person deleted that meeting: respect it
                    result.unchanged += 1
                    continue
                if link is None:
                    if occ.cancelled:
                        result.cancelled += 1
                        continue
                    inserts.append((occ, contact, _activity(occ, contact, owner)))
                elif occ.cancelled:
                    if not (link["subject"] or "").startswith(_CANCELLED):
                        updates.append((link["activity_id"], {"subject": _CANCELLED + (link["subject"] or "")}, None))
                        link_updates.append((link["id"], {"sequence": occ.sequence}, None))
                    result.cancelled += 1
                elif occ.sequence > (link["sequence"] or 0):
                    changes = _activity(occ, contact, owner)
                    updates.append(
                        (
                            link["activity_id"],
                            {k: changes[k] for k in ("subject", "body", "occurred_at", "channel")},
                            None,
                        )
                    )
                    link_updates.append((link["id"], _link_fields(occ), None))
                    result.updated += 1
                else:
                    result.unchanged += 1
        if len(inserts) + len(updates) > MAX_MEETINGS:
            raise CalendarImportError(
                f"this file would log {len(inserts) + len(updates)} meetings (more than {MAX_MEETINGS}): "
                "split it or import a shorter period"
            )
        ids = store.insert_many("activities", [record for _, _, record in inserts]) if inserts else []
        now_text, who = utcnow(), workspace.user
        store.insert_many(
            "calendar_events",
            [
                {
                    "uid": occ.uid,
                    "recurrence_id": occ.recurrence_id,
                    "contact_id": contact["id"],
                    "activity_id": activity_id,
                    "source": source,
                    "imported_at": now_text,
                    "imported_by": who,
                    **_link_fields(occ),
                }
                for (occ, contact, _), activity_id in zip(inserts, ids, strict=True)
            ],
        )
        result.created = len(ids)
        if updates:
            store.update_many("activities", updates)
            store.update_many("calendar_events", link_updates)
    return result


def _link_fields(occ: Occurrence) -> dict:
    return {
        "sequence": occ.sequence,
        "starts_at": _stamp(occ.start),
        "ends_at": _stamp(occ.end) if occ.end else None,
        "all_day": int(occ.all_day),
        "organizer": occ.organizer or None,
    }


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _activity(occ: Occurrence, contact: dict, owner: str | None) -> dict:
    lines = [occ.description] if occ.description else []
    if occ.location:
        lines.append(f"Location: {occ.location}")
    names = [f"{name} <{email}>" if name else email for email, name in occ.people[:20]]
    if names:
        lines.append("Attendees: " + ", ".join(names) + (" …" if len(occ.people) > 20 else ""))
    where = f"{occ.location} {occ.description}".lower()
    return {
        "kind": "meeting",
        "subject": occ.summary or "Meeting",
        "body": "\n".join(lines),
        "channel": "web" if any(mark in where for mark in _ONLINE) else "in_person",
        "contact_id": contact["id"],
        "organization_id": contact["organization_id"],
        "occurred_at": _stamp(occ.start),
        "owner": owner,
    }


def _owner(workspace: Workspace, occ: Occurrence, team: dict[str, str]) -> str | None:
    """The importing person; for the system (invitations by mail), the team member organizing or invited."""
    if not workspace.system:
        return workspace.user
    if occ.organizer in team:
        return team[occ.organizer]
    return next((team[email] for email, _ in occ.people if email in team), None)


def _team_emails(workspace: Workspace) -> dict[str, str]:
    rows = workspace.store.query(
        "SELECT username, lower(trim(email)) AS email FROM users WHERE coalesce(email, '') != ''"
    )
    return {row["email"]: row["username"] for row in rows}


def _contacts_by_email(workspace: Workspace, emails: list[str]) -> dict[str, dict]:
    found: dict[str, dict] = {}
    for i in range(0, len(emails), 500):
        chunk = emails[i : i + 500]
        marks = ",".join("?" * len(chunk))
        for row in workspace.store.query(
            f"SELECT id, organization_id, lower(email) AS email FROM contacts WHERE email COLLATE NOCASE IN ({marks})"
            " AND email != ''",
            chunk,
        ):
            found.setdefault(row["email"], row)
    return found


def _existing(workspace: Workspace, uids: list[str]) -> dict[tuple[str, str, int], dict]:
    found: dict[tuple[str, str, int], dict] = {}
    for i in range(0, len(uids), 500):
        chunk = uids[i : i + 500]
        marks = ",".join("?" * len(chunk))
        for row in workspace.store.query(
            "SELECT e.id, e.uid, e.recurrence_id, e.contact_id, e.activity_id, e.sequence, a.subject"
            f" FROM calendar_events e LEFT JOIN activities a ON a.id = e.activity_id WHERE e.uid IN ({marks})",
            chunk,
        ):
            found[(row["uid"], row["recurrence_id"] or "", row["contact_id"])] = row
    return found


def upcoming(workspace: Workspace, user: str | None = None, days: int = 30, limit: int = 100) -> list[dict]:
    """Meetings from now to ``days`` ahead (of ``user``, or everyone's), soonest first."""
    now = datetime.now(UTC)
    params: list = [_stamp(now), _stamp(now + timedelta(days=days))]
    where = ""
    if user:
        where, params = " AND a.owner = ?", [*params, user]
    return workspace.store.query(
        "SELECT a.id, a.occurred_at AS starts_at, a.subject, a.owner, a.contact_id,"
        " trim(coalesce(c.first_name, '') || ' ' || coalesce(c.last_name, '')) AS contact, o.name AS organization"
        " FROM activities a LEFT JOIN contacts c ON c.id = a.contact_id"
        " LEFT JOIN organizations o ON o.id = a.organization_id"
        f" WHERE a.kind = 'meeting' AND a.occurred_at >= ? AND a.occurred_at <= ?{where}"
        f" ORDER BY a.occurred_at, a.id LIMIT {int(limit)}",
        params,
    )


def follow_moves(workspace: Workspace, changes: list) -> None:
    """Keep ``calendar_events`` on the contact an imported meeting now belongs to (after a merge, an edit)."""
    store = workspace.store
    moves = [
        c for c in changes if c.table == "activities" and c.action == "update" and c.changed("contact_id") and c.after
    ]
    for change in moves:
        contact_id = change.after.get("contact_id")
        for link in store.query(
            "SELECT id, uid, recurrence_id FROM calendar_events WHERE activity_id = ?", [change.id]
        ):
            taken = store.scalar(
                "SELECT 1 FROM calendar_events WHERE uid = ? AND recurrence_id = ? AND contact_id = ?",
                [link["uid"], link["recurrence_id"], contact_id],
            )
            if contact_id and not taken:
                store.update("calendar_events", link["id"], {"contact_id": contact_id})
