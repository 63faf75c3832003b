"""Privacy (GDPR/CCPA): a person's data export, and erasure, across every plugin.

What counts as a person's data is declared by the plugins that keep it
(``crm_personal_data``: ``PersonalData(table, contact_column, fields)``), the
core included (the contact's own row, their activities). Nothing here names a
module's table, so a plugin installed tomorrow is covered the day it declares.

- **Consent** lives on the contact (``marketing_consent``, ``consent_at``,
  ``consent_source``), validated with the core tables' rules
  (``crm_workspace.core_rules.validate_consent``); lists meant for marketing
  filter with ``core_rules.CONSENTED_SQL``.
- **Export** (``crm privacy export EMAIL``): the contact, their organization's
  name, every declared table's rows about them and every audit entry about
  those records — as JSON and as an Excel workbook (one sheet per kind, written
  by ``export.write_xlsx``, so text starting with ``=`` is never a formula).
- **Erasure** (``crm privacy erase EMAIL``): in ONE transaction the contact is
  anonymized (names become "Erased person", the declared fields cleared), the
  declared fields of every declared row are erased (text becomes ``[erased]``,
  anything else NULL) and the person's email, phone and name are replaced in
  the other text of those rows, their email in every text column of every
  table, and the audit history of those records is scrubbed the same way.
  Append-only triggers are dropped and recreated inside that transaction, so a
  failure leaves them in place. Row ids, stages, dates, amounts and kinds stay,
  so counts, funnels and forecasts (anonymous aggregates) are unchanged. A
  receipt JSON names every table touched, without the erased values; an audit
  row records that an erasure happened.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crm_workspace.data.store import utcnow
from crm_workspace.errors import CrmError, NotFound, PermissionDenied
from crm_workspace.plugins import call_strict
from crm_workspace.types import Change, PersonalData

if TYPE_CHECKING:
    from crm_workspace.workspace import Workspace

ERASED = "[erased]"


# ---------------------------------------------------------- declarations
def declarations(workspace: Workspace) -> list[PersonalData]:
    """Every enabled plugin's ``PersonalData``, for the tables this workspace has."""
    found: list[PersonalData] = []
    for result in call_strict(workspace.pm, "crm_personal_data", workspace=workspace):
        for item in result:
            if not isinstance(item, PersonalData):
                raise CrmError(f"crm_personal_data must return PersonalData objects, not {item!r}")
            found.append(item)
    tables = {r["name"] for r in workspace.store.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return [d for d in found if d.table in tables]


def _is_subject(item: PersonalData) -> bool:
    return item.table == "contacts" and item.contact_column == "id"


def _select(item: PersonalData, columns: str = "*") -> str:
    where = f"[{item.contact_column}] = ?" + (f" AND ({item.where})" if item.where else "")
    return f"SELECT {columns} FROM [{item.table}] WHERE {where}"


def _rows(workspace: Workspace, item: PersonalData, contact_id: int) -> list[dict[str, Any]]:
    order = " ORDER BY id" if "id" in workspace.store.columns(item.table) else ""
    return workspace.store.query(_select(item) + order, [contact_id])


# ----------------------------------------------------------------- gather
def find_contact(workspace: Workspace, email: str) -> dict[str, Any]:
    rows = workspace.store.query("SELECT * FROM contacts WHERE email = ? COLLATE NOCASE", [email.strip()])
    if not rows:
        raise NotFound(f"no contact with the email {email!r}")
    return rows[0]


def gather(workspace: Workspace, email: str) -> dict[str, list[dict[str, Any]]]:
    """Everything held about the person with ``email``, by kind (lists of rows)."""
    contact = find_contact(workspace, email)
    cid = contact["id"]
    org = workspace.store.query("SELECT id, name FROM organizations WHERE id = ?", [contact.get("organization_id")])
    data: dict[str, list[dict[str, Any]]] = {"contact": [contact], "organization": org}
    records: dict[str, set[str]] = {"contacts": {str(cid)}}
    for item in declarations(workspace):
        if _is_subject(item):
            continue
        rows = data.setdefault(item.title or item.table, [])
        for row in _rows(workspace, item, cid):
            if row not in rows:  # one row may match two declarations (either end of a link)
                rows.append(row)
            if "id" in row:
                records.setdefault(item.table, set()).add(str(row["id"]))
    data["audit_entries"] = _audit_rows(workspace, records)
    return data


def _audit_rows(workspace: Workspace, records: dict[str, set[str]]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for table, id_set in records.items():
        ids = sorted(id_set)
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
        sheets[kind[:31]] = frame  # Excel's limit on a sheet name
    xlsx_path = write_xlsx(sheets, stem.with_suffix(".xlsx"))
    return json_path, xlsx_path


# ------------------------------------------------------------------ erase
def _scrub(value: Any, secrets: list[str], personal_keys: Iterable[str] = ()) -> Any:
    """``value`` with every secret string replaced; ``personal_keys`` of a dict nulled."""
    keys = frozenset(personal_keys)
    if isinstance(value, dict):
        return {k: (None if k in keys and v not in (None, "") else _scrub(v, secrets, keys)) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, secrets, keys) for v in value]
    if isinstance(value, str):
        for secret in secrets:
            if secret and secret.lower() in value.lower():
                value = re.sub(re.escape(secret), ERASED, value, flags=re.IGNORECASE)
        return value
    return value


def _erased(value: Any) -> Any:
    """What an erased field holds: ``[erased]`` for text that was there, NULL for anything else."""
    if value in (None, ""):
        return value
    return ERASED if isinstance(value, str) else None


def erase(workspace: Workspace, email: str, receipt_dir: str | Path = ".") -> Path:
    """Anonymize the person everywhere (history included) in one transaction; returns the receipt path."""
    from crm_workspace.data import permissions

    if not permissions.is_admin(workspace):
        raise PermissionDenied(f"only an admin may erase a person's data ({workspace.user} is not one)")
    store = workspace.store
    conn = store.conn
    declared = declarations(workspace)
    contact = find_contact(workspace, email)
    cid = contact["id"]
    contact_fields = [f for d in declared if _is_subject(d) for f in d.fields if f in store.columns("contacts")]
    full_name = " ".join(p for p in (contact.get("first_name"), contact.get("last_name")) if p)
    secrets = [s for s in (contact.get("email"), contact.get("phone"), full_name) if s and len(str(s)) >= 3]
    secrets.sort(key=len, reverse=True)
    now = utcnow()
    receipt: dict[str, Any] = {
        "erased_at": now,
        "erased_by": workspace.user,
        "contact_id": cid,
        "fields_cleared": [f for f in contact_fields if contact.get(f) not in (None, "")],
        "tables": {},
        "audit_entries_scrubbed": 0,
        "other_cells_scrubbed": {},
    }
    anonymous: dict[str, Any] = {f: None for f in contact_fields}
    anonymous.update(first_name="Erased", last_name="person")
    anonymous = {k: v for k, v in anonymous.items() if k in store.columns("contacts")}
    secure_delete = conn.execute("PRAGMA secure_delete").fetchone()[0]
    conn.execute("PRAGMA secure_delete = ON")  # overwrite the old values in the file, not just unlink them
    with store.transaction():
        assignments = ", ".join(f"[{k}] = ?" for k in anonymous)
        conn.execute(
            f"UPDATE contacts SET {assignments}, updated_at = ?, updated_by = ?, version = version + 1 WHERE id = ?",
            [*anonymous.values(), now, workspace.user, cid],
        )
        audited: dict[tuple[str, str], tuple[str, ...]] = {("contacts", str(cid)): tuple(contact_fields)}
        for item in declared:
            if not _is_subject(item):
                _erase_rows(workspace, item, cid, secrets, now, receipt["tables"], audited)
        receipt["other_cells_scrubbed"] = _scrub_everywhere(conn, contact.get("email"))
        receipt["audit_entries_scrubbed"] = _scrub_audit(conn, audited, secrets)
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


def _erase_rows(
    workspace: Workspace,
    item: PersonalData,
    cid: int,
    secrets: list[str],
    now: str,
    tables: dict[str, dict[str, Any]],
    audited: dict[tuple[str, str], tuple[str, ...]],
) -> None:
    """Erase ``item.fields`` of the person's rows in ``item.table`` and their secrets from its other text."""
    conn = workspace.store.conn
    columns = workspace.store.columns(item.table)
    unknown = [f for f in item.fields if f not in columns]
    if unknown:
        raise CrmError(f"personal data of {item.table} names no such column: {', '.join(unknown)}")
    rows = [dict(zip(("_rowid_", *columns), r, strict=True)) for r in conn.execute(_select(item, "rowid, *"), [cid])]
    entry = tables.setdefault(item.table, {"rows": [], "fields_erased": list(item.fields)})
    stamps = [s for s in ("updated_at", "version") if s in columns and s not in item.fields]
    with _lifted_append_only(conn, item.table, enabled=bool(rows)):
        for row in rows:
            rowid = row.pop("_rowid_")
            changes = {f: _erased(row[f]) for f in item.fields if _erased(row[f]) != row[f]}
            for column, value in row.items():
                if column not in changes and isinstance(value, str):
                    scrubbed = _scrub(value, secrets)
                    if scrubbed != value:
                        changes[column] = scrubbed
            if changes:
                stamp = {"updated_at": now, "version": (row.get("version") or 0) + 1}
                changes.update({s: stamp[s] for s in stamps})
                sets = ", ".join(f"[{c}] = ?" for c in changes)
                conn.execute(f"UPDATE [{item.table}] SET {sets} WHERE rowid = ?", [*changes.values(), rowid])
            key = row.get("id", rowid)
            if key not in entry["rows"]:
                entry["rows"].append(key)
            if "id" in row:
                audited[(item.table, str(row["id"]))] = tuple(item.fields)


@contextlib.contextmanager
def _lifted_append_only(conn: Any, table: str, *, enabled: bool = True):
    """Drop ``table``'s append-only triggers for the block, recreate them after (inside the caller's transaction)."""
    triggers = []
    if enabled:
        triggers = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? AND sql LIKE '%append-only%'",
            [table],
        ).fetchall()
    for name, _sql in triggers:
        conn.execute(f"DROP TRIGGER [{name}]")
    try:
        yield
    finally:
        for _name, sql in triggers:
            conn.execute(sql)


def _scrub_everywhere(conn: Any, email: str | None) -> dict[str, int]:
    """Replace the email in every text column of every ordinary table (undeclared ones too)."""
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
        with _lifted_append_only(conn, table):
            for column in columns:
                cursor = conn.execute(
                    f"UPDATE [{table}] SET [{column}] = replace([{column}], ?, ?) WHERE [{column}] LIKE ?",
                    [email, ERASED, f"%{email}%"],
                )
                if cursor.rowcount:
                    counts[f"{table}.{column}"] = cursor.rowcount
    return counts


def _scrub_audit(conn: Any, records: dict[tuple[str, str], tuple[str, ...]], secrets: list[str]) -> int:
    """Rewrite the audit entries of ``records`` (their declared fields erased) and any entry naming a secret."""
    count = 0
    with _lifted_append_only(conn, "audit_log"):
        rows = conn.execute("SELECT id, table_name, row_id, changes FROM audit_log").fetchall()
        like = [s.lower() for s in secrets]
        for row_id, table, record_id, changes in rows:
            fields = records.get((table, record_id))
            if fields is None and not any(s in (changes or "").lower() for s in like):
                continue
            try:
                body = json.loads(changes) if changes else {}
            except ValueError:
                body = changes
            if table == "contacts" and fields is not None:
                scrubbed = _scrub(body, secrets, fields)
            else:
                scrubbed = _scrub_fields(_scrub(body, secrets), fields or ())
            text = json.dumps(scrubbed, ensure_ascii=False) if not isinstance(scrubbed, str) else scrubbed
            if text != changes:
                conn.execute("UPDATE audit_log SET changes = ? WHERE id = ?", [text, row_id])
                count += 1
    return count


def _scrub_fields(body: Any, fields: tuple[str, ...]) -> Any:
    if isinstance(body, dict):
        for part in ("before", "after"):
            values = body.get(part)
            if isinstance(values, dict):
                for field in fields:
                    if field in values:
                        values[field] = _erased(values[field])
    return body
