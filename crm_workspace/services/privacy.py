"""Privacy (GDPR/CCPA): marketing consent, a person's data export, and erasure.

- **Consent** lives on the contact (``marketing_consent``, ``consent_at``,
  ``consent_source``), validated with the core tables' rules
  (``crm_workspace.core_rules.validate_consent``); lists meant for marketing
  filter with ``core_rules.CONSENTED_SQL``.
- **Export** (``crm privacy export EMAIL``): everything held about the person —
  the contact, their organization's name, activities, deals, relationships,
  lifecycle history and every audit entry about those records — as JSON and as
  an Excel workbook (one sheet per kind, written by ``export.write_xlsx``, so
  text starting with ``=`` is never a formula).
- **Erasure** (``crm privacy erase EMAIL``): in ONE transaction the contact is
  anonymized (names become "Erased person", contact details and notes cleared),
  the text of their activities and relationship notes is cleared, their email
  is replaced in every text column of every table, and their audit history is
  scrubbed (the append-only triggers are dropped and recreated inside that
  transaction, so a failure leaves them in place). Row ids, stages, dates,
  amounts and kinds stay, so counts, funnels and forecasts (anonymous
  aggregates) are unchanged. A receipt JSON lists what was erased, without the
  erased values; an audit row records that an erasure happened.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crm_workspace.data.store import utcnow
from crm_workspace.errors import NotFound, PermissionDenied
from crm_workspace.plugins import call_strict
from crm_workspace.types import Change

if TYPE_CHECKING:
    from crm_workspace.workspace import Workspace

ERASED = "[erased]"
_PERSONAL = ("first_name", "last_name", "email", "phone", "title", "notes", "source", "consent_source")


# ----------------------------------------------------------------- gather
def find_contact(workspace: Workspace, email: str) -> dict[str, Any]:
    rows = workspace.store.query("SELECT * FROM contacts WHERE email = ? COLLATE NOCASE", [email.strip()])
    if not rows:
        raise NotFound(f"no contact with the email {email!r}")
    return rows[0]


def _ids(rows: list[dict]) -> list[str]:
    return [str(r["id"]) for r in rows]


def gather(workspace: Workspace, email: str) -> dict[str, list[dict[str, Any]]]:
    """Everything held about the person with ``email``, by kind (lists of rows)."""
    q = workspace.store.query
    contact = find_contact(workspace, email)
    cid = contact["id"]
    org = q("SELECT id, name FROM organizations WHERE id = ?", [contact.get("organization_id")])
    activities = q("SELECT * FROM activities WHERE contact_id = ? ORDER BY occurred_at, id", [cid])
    deals = q("SELECT * FROM deals WHERE contact_id = ? ORDER BY id", [cid])
    relationships = q(
        "SELECT * FROM relationships WHERE (source_type = 'contacts' AND source_id = ?)"
        " OR (target_type = 'contacts' AND target_id = ?) ORDER BY id",
        [cid, cid],
    )
    lifecycle = q("SELECT * FROM lifecycle_events WHERE contact_id = ? ORDER BY at, id", [cid])
    audit = _audit_rows(workspace, cid, activities, deals, relationships)
    return {
        "contact": [contact],
        "organization": org,
        "activities": activities,
        "deals": deals,
        "relationships": relationships,
        "lifecycle_history": lifecycle,
        "audit_entries": audit,
    }


def _audit_rows(workspace: Workspace, cid: int, activities, deals, relationships) -> list[dict[str, Any]]:
    wanted = [("contacts", [str(cid)]), ("activities", _ids(activities)), ("relationships", _ids(relationships))]
    wanted.append(("deals", _ids(deals)))
    rows: list[dict[str, Any]] = []
    for table, ids in wanted:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows += workspace.store.query(
                f"SELECT * FROM audit_log WHERE table_name = ? AND row_id IN ({', '.join('?' * len(chunk))})",
                [table, *chunk],
            )
    return sorted(rows, key=lambda r: (r["at"] or "", r["id"]))


def export(workspace: Workspace, email: str, directory: str | Path = ".") -> tuple[Path, Path]:
    """Write ``<stem>.json`` and ``<stem>.xlsx`` of everything about the person; returns both paths."""
    import pandas as pd

    from crm_workspace.services.export import write_xlsx

    data = gather(workspace, email)
    cid = data["contact"][0]["id"]
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stem = directory / f"privacy-export-contact-{cid}"
    document = {
        "exported_at": utcnow(),
        "exported_by": workspace.user,
        "workspace": str(Path(workspace.path).name),
        "subject": {"contact_id": cid, "email": data["contact"][0]["email"]},
        **data,
    }
    for row in document["audit_entries"]:
        with contextlib.suppress(TypeError, ValueError):
            row["changes"] = json.loads(row["changes"])
    json_path = stem.with_suffix(".json")
    json_path.write_text(json.dumps(document, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    sheets = {}
    for kind, rows in data.items():
        frame = pd.DataFrame(rows)
        if kind == "audit_entries" and len(frame):
            frame["changes"] = frame["changes"].map(
                lambda v: v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
            )
        sheets[kind] = frame
    xlsx_path = write_xlsx(sheets, stem.with_suffix(".xlsx"))
    return json_path, xlsx_path


# ------------------------------------------------------------------ erase
def _scrub(value: Any, secrets: list[str], personal_keys: bool) -> Any:
    """``value`` with every secret string replaced; personal fields of a contact nulled."""
    if isinstance(value, dict):
        return {
            k: (None if personal_keys and k in _PERSONAL and v not in (None, "") else _scrub(v, secrets, personal_keys))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_scrub(v, secrets, personal_keys) for v in value]
    if isinstance(value, str):
        for secret in secrets:
            if secret and secret.lower() in value.lower():
                value = _replace_ci(value, secret, ERASED)
        return value
    return value


def _replace_ci(text: str, old: str, new: str) -> str:
    import re

    return re.sub(re.escape(old), new, text, flags=re.IGNORECASE)


def erase(workspace: Workspace, email: str, receipt_dir: str | Path = ".") -> Path:
    """Anonymize the person everywhere (history included) in one transaction; returns the receipt path."""
    from crm_workspace.data import permissions, schema

    if not permissions.is_admin(workspace):
        raise PermissionDenied(f"only an admin may erase a person's data ({workspace.user} is not one)")
    store = workspace.store
    conn = store.conn
    data = gather(workspace, email)
    contact = data["contact"][0]
    cid = contact["id"]
    full_name = " ".join(p for p in (contact.get("first_name"), contact.get("last_name")) if p)
    secrets = [s for s in (contact.get("email"), contact.get("phone"), full_name) if s and len(str(s)) >= 3]
    secrets.sort(key=len, reverse=True)
    now = utcnow()
    receipt: dict[str, Any] = {
        "erased_at": now,
        "erased_by": workspace.user,
        "contact_id": cid,
        "fields_cleared": [f for f in _PERSONAL if contact.get(f) not in (None, "")],
        "activities_scrubbed": [r["id"] for r in data["activities"]],
        "relationships_scrubbed": [r["id"] for r in data["relationships"]],
        "deals_kept_anonymous": [r["id"] for r in data["deals"]],
        "lifecycle_events_kept": len(data["lifecycle_history"]),
        "audit_entries_scrubbed": 0,
        "other_cells_scrubbed": {},
    }
    anonymous = {f: None for f in _PERSONAL}
    anonymous.update(first_name="Erased", last_name="person", marketing_consent=None, consent_at=None)
    anonymous = {k: v for k, v in anonymous.items() if k in store.columns("contacts")}
    secure_delete = conn.execute("PRAGMA secure_delete").fetchone()[0]
    conn.execute("PRAGMA secure_delete = ON")  # overwrite the old values in the file, not just unlink them
    with store.transaction():
        assignments = ", ".join(f"[{k}] = ?" for k in anonymous)
        conn.execute(
            f"UPDATE contacts SET {assignments}, updated_at = ?, updated_by = ?, version = version + 1 WHERE id = ?",
            [*anonymous.values(), now, workspace.user, cid],
        )
        conn.execute(
            "UPDATE activities SET subject = CASE WHEN subject IS NULL THEN NULL ELSE ? END, body = NULL,"
            " version = version + 1, updated_at = ? WHERE contact_id = ?",
            [ERASED, now, cid],
        )
        conn.execute(
            "UPDATE relationships SET notes = NULL, version = version + 1, updated_at = ?"
            " WHERE (source_type = 'contacts' AND source_id = ?) OR (target_type = 'contacts' AND target_id = ?)",
            [now, cid, cid],
        )
        for row in data["deals"]:
            title = _scrub(row["title"], secrets, False)
            if title != row["title"]:
                conn.execute("UPDATE deals SET title = ? WHERE id = ?", [title, row["id"]])
        receipt["other_cells_scrubbed"] = _scrub_everywhere(conn, contact.get("email"))
        receipt["audit_entries_scrubbed"] = _scrub_audit(conn, data, secrets, schema.APPEND_ONLY)
        conn.execute(
            "INSERT INTO audit_log (at, user, table_name, row_id, action, changes) VALUES (?, ?, ?, ?, ?, ?)",
            [now, workspace.user, "contacts", str(cid), "erase", json.dumps({"privacy_erasure": True})],
        )
        after = store.get("contacts", cid)
        call_strict(
            workspace.pm,
            "crm_record_changed",
            workspace=workspace,
            changes=[Change("contacts", cid, "update", contact, after, workspace.user, now, {"privacy_erasure": True})],
        )
    conn.execute(f"PRAGMA secure_delete = {int(secure_delete)}")
    # old page images stay in the WAL until a checkpoint: copy them back and truncate it now if nobody reads
    busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
    receipt["old_versions_purged_from_wal"] = busy == 0
    receipt_dir = Path(receipt_dir)
    receipt_dir.mkdir(parents=True, exist_ok=True)
    path = receipt_dir / f"erasure-receipt-contact-{cid}-{now.replace(':', '')}.json"
    path.write_text(json.dumps(receipt, indent=2), encoding="utf-8")
    return path


def _scrub_everywhere(conn: Any, email: str | None) -> dict[str, int]:
    """Replace the email in every text column of every ordinary table (plugins' tables too)."""
    if not email:
        return {}
    counts: dict[str, int] = {}
    tables = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " AND name NOT IN ('audit_log') AND sql NOT LIKE 'CREATE VIRTUAL%'"
        )
    ]
    virtual = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE sql LIKE 'CREATE VIRTUAL%'")}
    for table in tables:
        if any(table.startswith(f"{v}_") for v in virtual):
            continue  # an FTS index's shadow table: its triggers follow the content table
        columns = [r[1] for r in conn.execute(f"PRAGMA table_info([{table}])") if (r[2] or "").upper() in ("TEXT", "")]
        for column in columns:
            cursor = conn.execute(
                f"UPDATE [{table}] SET [{column}] = replace([{column}], ?, ?) WHERE [{column}] LIKE ?",
                [email, ERASED, f"%{email}%"],
            )
            if cursor.rowcount:
                counts[f"{table}.{column}"] = cursor.rowcount
    return counts


def _scrub_audit(conn: Any, data: dict, secrets: list[str], append_only: tuple[str, ...]) -> int:
    """Rewrite the person's audit entries with the triggers lifted, inside the caller's transaction."""
    triggers = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'"
    ).fetchall()
    for name, _sql in triggers:
        conn.execute(f"DROP TRIGGER [{name}]")
    count = 0
    try:
        personal = {("contacts", str(data["contact"][0]["id"]))}
        personal |= {("activities", str(r["id"])) for r in data["activities"]}
        personal |= {("relationships", str(r["id"])) for r in data["relationships"]}
        rows = conn.execute("SELECT id, table_name, row_id, changes FROM audit_log").fetchall()
        like = [s.lower() for s in secrets]
        for row_id, table, record_id, changes in rows:
            mine = (table, record_id) in personal
            if not mine and not any(s in (changes or "").lower() for s in like):
                continue
            try:
                body = json.loads(changes) if changes else {}
            except ValueError:
                body = changes
            if mine and table == "contacts":
                scrubbed = _scrub(body, secrets, True)
            elif mine and table == "activities":
                scrubbed = _scrub_fields(body, {"subject": ERASED, "body": None}, secrets)
            elif mine and table == "relationships":
                scrubbed = _scrub_fields(body, {"notes": None}, secrets)
            else:
                scrubbed = _scrub(body, secrets, False)
            text = json.dumps(scrubbed, ensure_ascii=False) if not isinstance(scrubbed, str) else scrubbed
            if text != changes:
                conn.execute("UPDATE audit_log SET changes = ? WHERE id = ?", [text, row_id])
                count += 1
    finally:
        for _name, sql in triggers:
            conn.execute(sql)
    return count


def _scrub_fields(body: Any, replacements: dict[str, Any], secrets: list[str]) -> Any:
    body = _scrub(body, secrets, False)
    if isinstance(body, dict):
        for part in ("before", "after"):
            values = body.get(part)
            if isinstance(values, dict):
                for field, replacement in replacements.items():
                    if values.get(field) not in (None, ""):
                        values[field] = replacement
    return body
