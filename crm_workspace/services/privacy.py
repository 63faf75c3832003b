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
  by ``export.write_xlsx``, so text starting with ``=`` is never a formula);
  bytes (attachments) go in the JSON as base64 with their size, in the
  workbook as a note of their size, never raw.
- **Erasure** (``crm privacy erase EMAIL``): in ONE write with ``secure_delete``
  (``store.erasing()``) the contact is anonymized, declared fields erased
  (``[erased]``/NULL) or declared rows removed (``remove=True``), copies of
  merged duplicates found in declared fields erased with their audit history,
  the person's emails, phones and full names replaced (any case) in every text
  column and in the audit entries, and every FTS5 index rebuilt (deleted
  tokens linger in shadow tables). Every declaration's rows are chosen
  before any is changed, so a declaration reached through another declared
  table (attachment blobs through attachment rows) does not depend on the
  order plugins declare in. Then ``store.purge_free_pages()`` truncates
  the WAL. Ids, stages, dates and amounts stay (aggregates unchanged). The
  receipt lists only rows really changed and names the backups next to the
  database, which still hold the person.
- **The erased** are recorded in the core table ``erased_contacts`` by the
  erasure itself (and, for older files, from the audit trail's ``erase``
  entries by the core migration). Modules read it through ``erased``,
  ``erased_in`` (a write's erased contacts), ``not_erased`` and
  ``ERASED_IDS``: a segment, a sequence, a score never takes an erased
  person again, whichever modules were enabled at the erasure.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crm_workspace.data.schema import ERASED_CONTACTS
from crm_workspace.data.store import utcnow
from crm_workspace.errors import CrmError, NotFound, PermissionDenied, PluginError
from crm_workspace.plugins import call_strict, dormant_answers
from crm_workspace.services.privacy_scrub import (
    _erased,
    _lifted_append_only,
    _rebuild_search_indexes,
    _scrub,
    _scrub_audit,
    _scrub_everywhere,
)
from crm_workspace.types import Change, PersonalData

if TYPE_CHECKING:
    from crm_workspace.workspace import Workspace


# ------------------------------------------------------------ the erased
#: The ids of every erased contact, as an SQL subquery (``x NOT IN (ERASED_IDS)``).
ERASED_IDS = f"SELECT contact_id FROM {ERASED_CONTACTS}"


def not_erased(column: str = "c.id") -> str:
    """An SQL condition: the contact id in ``column`` is not an erased person's (``c.id NOT IN (...)``)."""
    return f"{column} NOT IN ({ERASED_IDS})"


def erased(workspace: Workspace, contact_ids: Iterable[int] | None = None) -> set[int]:
    """The ids of the erased contacts (among ``contact_ids`` when given)."""
    if contact_ids is None:
        return {r["contact_id"] for r in workspace.store.query(ERASED_IDS)}
    ids = json.dumps(sorted({int(i) for i in contact_ids if i is not None}))
    rows = workspace.store.query(f"{ERASED_IDS} WHERE contact_id IN (SELECT value FROM json_each(?))", [ids])
    return {r["contact_id"] for r in rows}


def erased_in(workspace: Workspace, changes: Iterable[Change]) -> set[int]:
    """The contacts these changes erased: flagged ``privacy_erasure`` AND in ``erased_contacts``.

    The flag alone proves nothing (any caller may set it with ``store.context(...)``); the
    erasure writes the person into the core's list before it announces the change, so a
    forged flag on an ordinary update finds nobody here.
    """
    flagged = {int(c.id) for c in changes if c.table == "contacts" and (c.context or {}).get("privacy_erasure")}
    return erased(workspace, flagged) if flagged else set()


# ---------------------------------------------------------- declarations
def declarations(workspace: Workspace) -> list[PersonalData]:
    """Every installed plugin's ``PersonalData``, for the tables this workspace has.

    Installed plugins that are not running (disabled, or left out by ``$CRM_PLUGINS``) are
    asked too: their tables still hold people. One that cannot be loaded stops the export
    or erasure, which would otherwise miss what it keeps.
    """
    try:
        with workspace.store.snapshot():  # asked, not run: a disabled plugin's hook may not write
            answers = dormant_answers(workspace.pm, "crm_personal_data", workspace=workspace)
    except PluginError as error:
        raise CrmError(
            f"plugin '{error.plugin}' is installed but not running, and cannot say which personal data its"
            f" tables keep ({error.error}): fix or uninstall it, then try again"
        ) from error
    found: list[PersonalData] = []
    for result in call_strict(workspace.pm, "crm_personal_data", workspace=workspace) + answers:
        for item in result:
            if not isinstance(item, PersonalData):
                raise CrmError(f"crm_personal_data must return PersonalData objects, not {item!r}")
            found.append(item)
    tables = {r["name"] for r in workspace.store.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return [d for d in found if d.table in tables]


def _is_subject(item: PersonalData) -> bool:
    return item.table == "contacts" and item.contact_column == "id"


def _select(item: PersonalData, columns: str = "*") -> str:
    """The rows of ``item``: its column equals ``:contact`` and/or its ``where`` (which may name ``:contact``)."""
    parts = [f"[{item.contact_column}] = :contact"] if item.contact_column else []
    parts += [f"({item.where})"] if item.where else []
    if not parts:
        raise CrmError(f"personal data of {item.table} names neither a contact column nor a where condition")
    return f"SELECT {columns} FROM [{item.table}] WHERE {' AND '.join(parts)}"


def _rows(workspace: Workspace, item: PersonalData, contact_id: int) -> list[dict[str, Any]]:
    order = " ORDER BY id" if "id" in workspace.store.columns(item.table) else ""
    return workspace.store.query(_select(item) + order, {"contact": contact_id})


# ----------------------------------------------------------------- gather
def find_contact(workspace: Workspace, email: str) -> dict[str, Any]:
    rows = workspace.store.query(
        "SELECT * FROM contacts WHERE email = ? COLLATE NOCASE AND email != ''", [email.strip()]
    )
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
    if any(isinstance(v, bytes) for rows in data.values() for row in rows for v in row.values()):
        document["binary_note"] = BINARY_NOTE
    json_path = stem.with_suffix(".json")
    json_path.write_text(json.dumps(document, indent=2, ensure_ascii=False, default=_json_value), encoding="utf-8")
    sheets = {}
    for kind, rows in data.items():
        frame = pd.DataFrame([{k: _cell(v) for k, v in row.items()} for row in rows])
        if kind == "audit_entries" and len(frame):
            frame["changes"] = frame["changes"].map(
                lambda v: v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
            )
        sheets[kind[:31]] = frame  # Excel's limit on a sheet name
    xlsx_path = write_xlsx(sheets, stem.with_suffix(".xlsx"))
    return json_path, xlsx_path


BINARY_NOTE = (
    'Bytes (attachments) are written in the JSON as {"base64": ..., "size": n}; the workbook names their size only.'
)


def _json_value(value: Any) -> Any:
    """JSON for what ``json`` cannot write: bytes as base64 (with their size), anything else as text."""
    if isinstance(value, bytes):
        return {"base64": base64.b64encode(value).decode("ascii"), "size": len(value)}
    return str(value)


def _cell(value: Any) -> Any:
    """A workbook cell: bytes never go in raw (the JSON export holds them as base64)."""
    if isinstance(value, bytes):
        return f"[{len(value)} bytes: in the JSON export as base64]"
    return value


# ------------------------------------------------------------------ erase
def _full_name(contact: dict[str, Any]) -> str:
    return " ".join(str(p) for p in (contact.get("first_name"), contact.get("last_name")) if p)


def _contact_copies(value: Any) -> list[dict[str, Any]]:
    """Copies of a contact kept inside a declared field (a merged duplicate in a merge log's JSON)."""
    if isinstance(value, str) and value[:1] in "{[":
        with contextlib.suppress(ValueError):
            return _contact_copies(json.loads(value))
    if isinstance(value, list):
        return [c for v in value for c in _contact_copies(v)]
    if isinstance(value, dict):
        own = [value] if {"id", "email", "first_name"} <= set(value) else []
        return own + [c for v in value.values() for c in _contact_copies(v)]
    return []


def erase(workspace: Workspace, email: str, receipt_dir: str | Path = ".") -> Path:
    """Anonymize the person everywhere (history, search index, free pages) in one transaction; returns the receipt."""
    from crm_workspace.data import permissions

    if not permissions.is_admin(workspace):
        raise PermissionDenied(f"only an admin may erase a person's data ({workspace.user} is not one)")
    store = workspace.store
    conn = store.conn
    declared = declarations(workspace)
    contact = find_contact(workspace, email)
    cid = contact["id"]
    contact_fields = [f for d in declared if _is_subject(d) for f in d.fields if f in store.columns("contacts")]
    now = utcnow()
    receipt: dict[str, Any] = {
        "erased_at": now,
        "erased_by": workspace.user,
        "contact_id": cid,
        "fields_cleared": [f for f in contact_fields if contact.get(f) not in (None, "")],
        "tables": {},
        "merged_duplicates": [],
        "audit_entries_scrubbed": 0,
        "mentions_scrubbed": {},
        "search_indexes_rebuilt": [],
        "backups_still_holding_the_person": _backups(Path(workspace.path)),
    }
    anonymous: dict[str, Any] = {f: None for f in contact_fields}
    anonymous.update(first_name="Erased", last_name="person")
    anonymous = {k: v for k, v in anonymous.items() if k in store.columns("contacts")}
    with store.erasing():  # secure_delete: what is overwritten or deleted is zeroed in the file
        people = [contact]
        for item in declared:  # copies of merged duplicates: their ids, emails and names are hers too
            if not _is_subject(item):
                for row in _rows(workspace, item, cid):
                    people += [c for f in item.fields for c in _contact_copies(row.get(f)) if c.get("id") != cid]
        receipt["merged_duplicates"] = sorted({c["id"] for c in people[1:]})
        secrets = _secrets(people)
        assignments = ", ".join(f"[{k}] = ?" for k in anonymous)
        conn.execute(
            f"UPDATE contacts SET {assignments}, updated_at = ?, updated_by = ?, version = version + 1 WHERE id = ?",
            [*anonymous.values(), now, workspace.user, cid],
        )
        audited = {("contacts", str(c["id"])): tuple(contact_fields) for c in people}
        # every declaration's rows are chosen BEFORE any is changed or deleted: a declaration reached
        # through another table (blobs through attachments) finds its rows whatever the order
        chosen = [(item, _chosen_rows(workspace, item, cid)) for item in declared if not _is_subject(item)]
        for item, rows in chosen:
            _erase_rows(workspace, item, rows, secrets, now, receipt["tables"], audited)
        receipt["mentions_scrubbed"] = _scrub_everywhere(conn, _mentions(people))
        receipt["audit_entries_scrubbed"] = _scrub_audit(conn, audited, secrets)
        receipt["search_indexes_rebuilt"] = _rebuild_search_indexes(conn)
        conn.execute(
            "INSERT INTO audit_log (at, user, table_name, row_id, action, changes) VALUES (?, ?, ?, ?, ?, ?)",
            [now, workspace.user, "contacts", str(cid), "erase", json.dumps({"privacy_erasure": True})],
        )
        # the core's list of the erased, before the change is announced: modules' hooks may read it
        conn.execute(f"INSERT OR IGNORE INTO {ERASED_CONTACTS} (contact_id, erased_at) VALUES (?, ?)", [cid, now])
        after = store.get("contacts", cid)
        call_strict(
            workspace.pm,
            "crm_record_changed",
            workspace=workspace,
            changes=[Change("contacts", cid, "update", contact, after, workspace.user, now, {"privacy_erasure": True})],
        )
    # old page images stay in the WAL until a checkpoint: copy them back and truncate it now if nobody reads
    receipt["old_versions_purged_from_wal"] = store.purge_free_pages()
    receipt_dir = Path(receipt_dir)
    receipt_dir.mkdir(parents=True, exist_ok=True)
    path = receipt_dir / f"erasure-receipt-contact-{cid}-{now.replace(':', '')}.json"
    path.write_text(json.dumps(receipt, indent=2), encoding="utf-8")
    return path


def _secrets(people: list[dict[str, Any]]) -> list[str]:
    """The strings that identify the person in other text: emails, phones, full names; longest first."""
    found = {str(s) for c in people for s in (c.get("email"), c.get("phone"), _full_name(c)) if s and len(str(s)) >= 3}
    return sorted(found, key=len, reverse=True)


def _mentions(people: list[dict[str, Any]]) -> list[str]:
    """What is scrubbed from every other record's text: emails, phones and full names of two words or more."""
    found = {str(c[k]) for c in people for k in ("email", "phone") if c.get(k) and len(str(c[k])) >= 5}
    found |= {n for c in people if " " in (n := _full_name(c)) and len(n) >= 5}
    return sorted(found, key=len, reverse=True)


def _backups(db: Path) -> list[dict[str, str]]:
    """Workspace copies next to the database (``crm backup`` files, ``*.before-restore-*``): erasure cannot reach them."""
    from crm_workspace.services.backup import check_workspace

    found = []
    for path in sorted(db.parent.iterdir()):
        if not path.is_file() or path == db or path.name.endswith(("-wal", "-shm", "-journal")):
            continue
        kept = path.name.startswith(f"{db.name}.before-restore-")
        if not kept:
            try:
                check_workspace(path)  # any workspace copy here: `crm backup` names it freely
                kept = True
            except CrmError:
                kept = False
        if kept:
            found.append({"file": str(path), "note": "made before the erasure: still holds the person's data"})
    return found


def _chosen_rows(workspace: Workspace, item: PersonalData, cid: int) -> list[dict[str, Any]]:
    """``item``'s rows of the person with their rowid (``_rowid_``), checked against the table's columns."""
    columns = workspace.store.columns(item.table)
    unknown = [f for f in item.fields if f not in columns]
    if unknown:
        raise CrmError(f"personal data of {item.table} names no such column: {', '.join(unknown)}")
    cursor = workspace.store.conn.execute(_select(item, "rowid, *"), {"contact": cid})
    return [dict(zip(("_rowid_", *columns), r, strict=True)) for r in cursor]


def _erase_rows(
    workspace: Workspace,
    item: PersonalData,
    rows: list[dict[str, Any]],
    secrets: list[str],
    now: str,
    tables: dict[str, dict[str, Any]],
    audited: dict[tuple[str, str], tuple[str, ...]],
) -> None:
    """Erase ``item.fields`` of the person's rows in ``item.table`` (or delete them) and their secrets from its text."""
    conn = workspace.store.conn
    columns = workspace.store.columns(item.table)
    stamps = [s for s in ("updated_at", "version") if s in columns and s not in item.fields]
    done: dict[str, Any] = {"rows": [], "rows_changed": 0, "rows_deleted": 0, "fields_erased": []}
    text_columns = tuple(c for c, kind in columns.items() if (kind or "").upper() in ("TEXT", "STR", ""))
    with _lifted_append_only(conn, item.table, enabled=bool(rows)):
        for row in rows:
            rowid = row.pop("_rowid_")
            current = conn.execute(f"SELECT * FROM [{item.table}] WHERE rowid = ?", [rowid]).fetchone()
            if current is None:
                continue  # chosen by two declarations and already removed by the other
            row = dict(zip(columns, current, strict=True))  # as the earlier declarations left it
            key = row.get("id", rowid)
            if "id" in row:
                audited[(item.table, str(row["id"]))] = text_columns if item.remove else tuple(item.fields)
            if item.remove:
                conn.execute(f"DELETE FROM [{item.table}] WHERE rowid = ?", [rowid])
                done["rows_deleted"] += 1
                done["rows"].append(key)
                continue
            changes = {f: _erased(row[f]) for f in item.fields if _erased(row[f]) != row[f]}
            for column, value in row.items():
                if column not in changes and isinstance(value, str):
                    scrubbed = _scrub(value, secrets)
                    if scrubbed != value:
                        changes[column] = scrubbed
            if changes:
                done["fields_erased"] += [f for f in item.fields if f in changes and f not in done["fields_erased"]]
                stamp = {"updated_at": now, "version": (row.get("version") or 0) + 1}
                changes.update({s: stamp[s] for s in stamps})
                sets = ", ".join(f"[{c}] = ?" for c in changes)
                conn.execute(f"UPDATE [{item.table}] SET {sets} WHERE rowid = ?", [*changes.values(), rowid])
                done["rows_changed"] += 1
                done["rows"].append(key)
    if done["rows"]:  # the receipt names only what was really done
        entry = tables.setdefault(item.table, {"rows": [], "rows_changed": 0, "rows_deleted": 0, "fields_erased": []})
        entry["rows"] += [k for k in done["rows"] if k not in entry["rows"]]
        entry["rows_changed"] += done["rows_changed"]
        entry["rows_deleted"] += done["rows_deleted"]
        entry["fields_erased"] += [f for f in done["fields_erased"] if f not in entry["fields_erased"]]
