"""``/api/openapi.json``: an OpenAPI 3.1 description generated from the resources and their columns."""

from __future__ import annotations

from typing import Any

from .records import MAX_LIMIT, OPERATORS, Table


def _type(declared: str) -> str:
    declared = declared.upper()
    if "INT" in declared:
        return "integer"
    if any(word in declared for word in ("REAL", "FLOA", "DOUB", "NUM")):
        return "number"
    return "string"


def _error(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


ERRORS = {
    "400": "Malformed JSON or query (unknown filter, bad limit or cursor)",
    "401": "Missing, malformed, unknown, expired or revoked token",
    "403": "The token's user and role may not do this",
    "404": "No such record or resource",
    "409": "Stale version: someone changed the record (the current record is in error.current)",
    "413": "Body larger than 1 MiB",
    "422": "Unknown or read-only fields, failed validation, missing version (messages by field)",
    "429": "Rate limit of the token exceeded (see Retry-After)",
}


def _responses(ok: str, schema: dict | None, *codes: str) -> dict:
    answer: dict[str, Any] = {"description": ok}
    if schema is not None:
        answer["content"] = {"application/json": {"schema": schema}}
    first = "201" if ok.startswith("Created") else "200"
    return {first: answer, **{code: _error(ERRORS[code]) for code in ("401", "429", *codes)}}


def _schemas(table: Table) -> tuple[dict, dict, dict]:
    name = table.resource.name
    props = {c: {"type": [_type(t), "null"]} for c, t in table.columns.items()}
    for c in table.resource.read_only:
        if c in props:
            props[c]["readOnly"] = True
    record = {"type": "object", "title": name, "properties": props}
    writable = {c: {"type": [_type(table.columns[c]), "null"]} for c in table.writable_fields}
    new = {"type": "object", "properties": writable, "additionalProperties": False}
    changes: dict[str, Any] = {"type": "object", "properties": dict(writable), "additionalProperties": False}
    if table.versioned:
        changes["properties"]["version"] = {
            "type": "integer",
            "description": "the version you last read (required unless an If-Match header names it)",
        }
    return record, new, changes


def _collection(name: str, table: Table) -> dict:
    ref = {"$ref": f"#/components/schemas/{name}"}
    params = [
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}},
        {
            "name": "cursor",
            "in": "query",
            "description": "the `cursor` of the previous page",
            "schema": {"type": "string"},
        },
        {"name": "sort", "in": "query", "description": "a field, `-field` descending", "schema": {"type": "string"}},
    ]
    for column in table.columns:
        params.append({"name": column, "in": "query", "required": False, "schema": {"type": "string"}})
        for op in OPERATORS:
            params.append({"name": f"{column}__{op}", "in": "query", "required": False, "schema": {"type": "string"}})
    page = {
        "type": "object",
        "properties": {
            "data": {"type": "array", "items": ref},
            "cursor": {"type": ["string", "null"]},
            "next": {"type": ["string", "null"]},
        },
        "required": ["data", "cursor", "next"],
    }
    operations: dict[str, Any] = {
        "get": {
            "operationId": f"list_{name}",
            "summary": f"List {name}: filters, sort, keyset pagination",
            "tags": [name],
            "parameters": params,
            "responses": _responses("A page of records", page, "400"),
        }
    }
    if table.resource.writable:
        operations["post"] = {
            "operationId": f"create_{name}",
            "summary": f"Create a record in {name}",
            "tags": [name],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}_new"}}},
            },
            "responses": _responses("Created", ref, "400", "403", "413", "422"),
        }
    return operations


def _item(name: str, table: Table) -> dict:
    ref = {"$ref": f"#/components/schemas/{name}"}
    key = {"name": "id", "in": "path", "required": True, "schema": {"type": _type(table.columns.get(table.pk, ""))}}
    if_match = {
        "name": "If-Match",
        "in": "header",
        "description": 'the ETag of the record you read ("3"): its version',
        "schema": {"type": "string"},
    }
    operations: dict[str, Any] = {
        "parameters": [key],
        "get": {
            "operationId": f"get_{name}",
            "summary": f"One record of {name}",
            "tags": [name],
            "responses": _responses("The record", ref, "404"),
        },
    }
    if table.resource.writable:
        operations["patch"] = {
            "operationId": f"update_{name}",
            "summary": f"Change fields of a record of {name} (with the version you read)",
            "tags": [name],
            "parameters": [if_match],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}_changes"}}},
            },
            "responses": _responses("The record as stored", ref, "400", "403", "404", "409", "413", "422"),
        }
        operations["delete"] = {
            "operationId": f"delete_{name}",
            "summary": f"Delete a record of {name} (with the version you read)",
            "tags": [name],
            "parameters": [{"name": "version", "in": "query", "schema": {"type": "integer"}}, if_match],
            "responses": _responses("Deleted", {"type": "object"}, "403", "404", "409", "422"),
        }
    return operations


def document(tables: dict[str, Table], *, server: str = "/api") -> dict:
    """The OpenAPI 3.1 document of the API over ``tables`` (resource name -> Table)."""
    schemas: dict[str, Any] = {
        "Error": {
            "type": "object",
            "properties": {
                "error": {
                    "type": "object",
                    "properties": {
                        "status": {"type": "integer"},
                        "message": {"type": "string"},
                        "fields": {"type": "object", "additionalProperties": {"type": "string"}},
                        "current": {"type": "object"},
                    },
                    "required": ["status", "message"],
                }
            },
            "required": ["error"],
        }
    }
    paths: dict[str, Any] = {}
    for name, table in sorted(tables.items()):
        record, new, changes = _schemas(table)
        schemas[name], schemas[f"{name}_new"], schemas[f"{name}_changes"] = record, new, changes
        paths[f"/{name}"] = _collection(name, table)
        paths[f"/{name}/{{id}}"] = _item(name, table)
    any_object = {"type": "object"}
    paths["/search"] = {
        "get": {
            "operationId": "search",
            "summary": "Search every module",
            "parameters": [
                {"name": "q", "in": "query", "required": True, "schema": {"type": "string"}},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}},
            ],
            "responses": _responses("Hits, best first", any_object, "400"),
        }
    }
    paths["/views"] = {
        "get": {
            "operationId": "list_views",
            "summary": "Every named view",
            "responses": _responses("Views", any_object),
        }
    }
    paths["/views/{name}"] = {
        "get": {
            "operationId": "get_view",
            "summary": "One view as JSON, or CSV with format=csv (other parameters go to the view)",
            "parameters": [
                {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["json", "csv"]}},
            ],
            "responses": _responses("The view's rows", any_object, "400", "404"),
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "crm-workspace API",
            "version": "1",
            "description": "Records, search and views of a crm-workspace. Authenticate with "
            "`Authorization: Bearer <token>` (`crm tokens add NAME --role ROLE`).",
        },
        "servers": [{"url": server}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
