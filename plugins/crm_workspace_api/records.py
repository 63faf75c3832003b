"""The records behind ``/api/<resource>``: list (filters, sort, keyset pagination), get, create, update, delete.

Plain functions over a Workspace acting as the caller, free of HTTP: the handlers
(handlers.py) turn their answers and errors into responses. Reads are policy reads
(``store.query``); writes go through the Store, so validation, the audit trail,
``version`` and ``crm_record_changed`` apply exactly as for a write from a page.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from crm_workspace import ApiResource, NotFound, ValidationError
from crm_workspace.data.schema import is_hidden

MAX_LIMIT = 200
DEFAULT_LIMIT = 50
RESERVED = frozenset({"cursor", "limit", "sort"})
OPERATORS = ("gte", "lte", "gt", "lt", "contains", "ne")
_SQL_OP = {"gte": ">=", "lte": "<=", "gt": ">", "lt": "<", "ne": "IS NOT"}


class BadRequest(Exception):
    """A malformed query: an unknown filter or sort field, a bad limit or cursor (HTTP 400)."""

    def __init__(self, message: str, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.fields = fields or {}


@dataclass(frozen=True)
class Table:
    """A resource with its table's columns looked up: what the API shows, filters on and accepts."""

    resource: ApiResource
    columns: dict[str, str]  # shown column -> declared type
    pk: str

    @classmethod
    def of(cls, workspace, resource: ApiResource) -> Table:
        store = workspace.store
        declared = store.columns(resource.table)
        names = resource.fields or tuple(declared)
        columns = {n: declared.get(n, "") for n in names if n in declared and not is_hidden(resource.table, n)}
        return cls(resource, columns, store.primary_key(resource.table))

    @property
    def writable_fields(self) -> list[str]:
        return [c for c in self.columns if c not in self.resource.read_only and c != self.pk]

    @property
    def versioned(self) -> bool:
        return "version" in self.columns

    def key(self, text: str) -> Any:
        """A record id from the URL, typed like the primary key (NotFound if it cannot be one)."""
        if self.columns.get(self.pk, "").upper() == "INTEGER" or (not self.columns and self.pk == "id"):
            try:
                return int(text)
            except ValueError:
                raise NotFound(f"{self.resource.name} #{text} does not exist") from None
        return text

    def json_row(self) -> str:
        """SQL building one row as a JSON object (``json_object`` takes at most 63 pairs: patched in groups)."""
        names = list(self.columns)

        def pairs(group: list[str]) -> str:
            return "json_object(" + ", ".join(f"'{c}', [{c}]" for c in group) + ")"

        built = pairs(names[:60])
        for start in range(60, len(names), 60):
            built = f"json_patch({built}, {pairs(names[start : start + 60])})"
        return built

    def select(self) -> str:
        return ", ".join(f"[{c}]" for c in self.columns)


# ----------------------------------------------------------------- listing
def encode_cursor(sort: str, value: Any, last_id: Any) -> str:
    raw = json.dumps([sort, value, last_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[Any, Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        sort_of, value, last_id = json.loads(raw)
    except (ValueError, TypeError, binascii.Error) as error:
        raise BadRequest("invalid cursor: pass back the cursor of the previous page", {"cursor": "invalid"}) from error
    if sort_of != sort:
        raise BadRequest(
            f"this cursor belongs to sort={sort_of}: keep the same sort while paging", {"cursor": "wrong sort"}
        )
    return value, last_id


def list_records(workspace, table: Table, args: dict[str, str]) -> tuple[list[dict], str | None]:
    """One page of records matching ``args`` (query parameters); the cursor of the next page, or None."""
    text, cursor = list_json(workspace, table, args)
    return json.loads(text), cursor


def list_json(workspace, table: Table, args: dict[str, str]) -> tuple[str, str | None]:
    """``list_records`` with the page as JSON text, built by SQLite (``json_object`` per row).

    SQLite writes each row's JSON in C: no dict per row and no Python encoding, which
    were two thirds of a page's time.
    """
    limit = _limit(args.get("limit"))
    sort = (args.get("sort") or table.pk).strip()
    field = sort.removeprefix("-")
    if field not in table.columns:
        raise BadRequest(f"cannot sort by '{field}': no such field", {"sort": f"no such field: {field}"})
    descending = sort.startswith("-")
    where, params = _filters(table, args)
    pk = table.pk
    if args.get("cursor"):
        value, last_id = decode_cursor(args["cursor"], sort)
        where.append(_after(field, pk, value, descending, params, last_id))
    direction = "DESC" if descending else "ASC"
    order = f"[{pk}] {direction}" if field == pk else f"[{field}] {direction}, [{pk}] {direction}"
    sql = f"SELECT {table.json_row()} AS j, [{field}] AS s, [{pk}] AS k FROM [{table.resource.table}]"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY {order} LIMIT {limit + 1}"
    rows = workspace.store.query(sql, params)
    cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        cursor = encode_cursor(sort, rows[-1]["s"], rows[-1]["k"])
    return "[" + ",".join(row["j"] for row in rows) + "]", cursor


def _limit(text: str | None) -> int:
    if text in (None, ""):
        return DEFAULT_LIMIT
    try:
        limit = int(text)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be a whole number from 1 to {MAX_LIMIT}", {"limit": f"1 to {MAX_LIMIT}"})
    return limit


def _filters(table: Table, args: dict[str, str]) -> tuple[list[str], dict[str, Any]]:
    where: list[str] = []
    params: dict[str, Any] = {}
    unknown: dict[str, str] = {}
    for i, (key, value) in enumerate(args.items()):
        if key in RESERVED:
            continue
        field, _, op = key.partition("__")
        if field not in table.columns or (op and op not in OPERATORS):
            unknown[key] = (
                f"unknown filter: use field=value or field__{'/'.join(OPERATORS)}=value over {', '.join(table.columns)}"
            )
            continue
        name = f"f{i}"
        if op == "contains":
            params[name] = "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            where.append(f"[{field}] LIKE :{name} ESCAPE '\\'")
        elif value.lower() == "null" and op in ("", "ne"):
            where.append(f"[{field}] IS {'NOT ' if op == 'ne' else ''}NULL")
        else:
            params[name] = value
            where.append(f"[{field}] {_SQL_OP.get(op, '=')} :{name}")
    if unknown:
        raise BadRequest("unknown filter: " + ", ".join(unknown), unknown)
    return where, params


def _after(field: str, pk: str, value: Any, descending: bool, params: dict, last_id: Any) -> str:
    """The keyset condition: rows after (``field``, ``pk``) = (value, last_id) in the listing's order.

    SQLite sorts NULL first ascending (last descending), so a NULL value continues
    among the NULLs, and a non-NULL one never returns to them (or reaches them at the end).
    """
    params["k_id"] = last_id
    if field == pk:
        return f"[{pk}] {'<' if descending else '>'} :k_id"
    params["k_value"] = value
    less = "<" if descending else ">"
    if value is None:
        tail = f"[{field}] IS NULL AND [{pk}] {less} :k_id"
        return f"({tail})" if descending else f"(({tail}) OR [{field}] IS NOT NULL)"
    keyset = f"[{field}] {less} :k_value OR ([{field}] = :k_value AND [{pk}] {less} :k_id)"
    return f"({keyset} OR [{field}] IS NULL)" if descending else f"({keyset})"


# ------------------------------------------------------------ one record
def get_record(workspace, table: Table, row_id: Any) -> dict:
    rows = workspace.store.query(
        f"SELECT {table.select()} FROM [{table.resource.table}] WHERE [{table.pk}] = ?", [row_id]
    )
    if not rows:
        raise NotFound(f"{table.resource.name} #{row_id} does not exist")
    return rows[0]


def shown(table: Table, row: dict) -> dict:
    return {k: row.get(k) for k in table.columns}


def _check_body(table: Table, body: Any, *, allow: tuple[str, ...] = ()) -> dict:
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object of fields")
    problems = {}
    for name in body:
        if name in allow:
            continue
        if name not in table.columns:
            problems[name] = f"unknown field (fields: {', '.join(table.writable_fields)})"
        elif name not in table.writable_fields:
            problems[name] = "read-only field"
    if problems:
        raise ValidationError(table.resource.table, problems)
    return {k: v for k, v in body.items() if k not in allow}


def create_record(workspace, table: Table, body: Any) -> dict:
    record = _check_body(table, body)
    row = workspace.store.insert(table.resource.table, record)
    return shown(table, row)


def _version(table: Table, body: dict, given: str | None) -> int | None:
    if not table.versioned:
        return None
    value = body.get("version", given)
    if value is None or value == "":
        raise ValidationError(
            table.resource.table,
            {"version": "required: the version of the record you last read (it refuses a stale write with 409)"},
        )
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValidationError(table.resource.table, {"version": "must be a whole number"}) from None


def update_record(workspace, table: Table, row_id: Any, body: Any, if_match: str | None = None) -> dict:
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object of fields")
    version = _version(table, body, if_match)
    changes = _check_body(table, body, allow=("version",))
    row = workspace.store.update(table.resource.table, row_id, changes, version=version)
    return shown(table, row)


def delete_record(workspace, table: Table, row_id: Any, body: Any, version_arg: str | None) -> dict:
    body = body if isinstance(body, dict) else {}
    version = _version(table, body, version_arg)
    workspace.store.delete(table.resource.table, row_id, version=version)
    return {"id": row_id, "deleted": True}
