"""The endpoints under ``/api/``: the index, the OpenAPI description, search, views and the resources."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from crm_workspace import NotFound, PermissionDenied

from . import records
from .handlers import ApiError, ApiHandler, _query_args
from .records import BadRequest
from .tokens import Caller
from .views import view_csv, view_json, views_listing

PREFIX = "/api"
#: The last OpenAPI document built, as JSON text, by (tables, server address).
_OPENAPI: dict[tuple[int, str], str] = {}  # (hash of the resources and columns, server)


class IndexHandler(ApiHandler):
    async def get(self) -> None:
        def work(ws: Any, caller: Caller) -> tuple:
            tables = self.state.tables()
            return 200, {
                "name": "crm-workspace API",
                "user": caller.user,
                "role": caller.role,
                "resources": {name: self.url_for_path(f"{PREFIX}/{name}") for name in sorted(tables)},
                "search": self.url_for_path(f"{PREFIX}/search?q="),
                "views": self.url_for_path(f"{PREFIX}/views"),
                "openapi": self.url_for_path(f"{PREFIX}/openapi.json"),
            }

        await self.run(work)


class OpenApiHandler(ApiHandler):
    async def get(self) -> None:
        from .openapi import document

        def work(ws: Any, _caller: Caller | None) -> tuple:
            tables, server = self.state.tables(), self.url_for_path(PREFIX)
            shape = tuple((n, t.resource, tuple(t.columns.items())) for n, t in sorted(tables.items()))
            key = (hash(shape), server)
            cached = _OPENAPI.get(key)
            if cached is None:
                _OPENAPI.clear()
                cached = _OPENAPI[key] = json.dumps(document(tables, server=server), separators=(",", ":"))
            return 200, cached

        await self.run(work, public=True)


class SearchHandler(ApiHandler):
    async def get(self) -> None:
        query = self.get_query_argument("q", "").strip()
        limit = self.get_query_argument("limit", "20")

        def work(ws: Any, _caller: Caller) -> tuple:
            if not query:
                raise BadRequest("give the text to search for: /api/search?q=...", {"q": "required"})
            frame = ws.search(query, records._limit(limit))
            names = {t.resource.table: name for name, t in self.state.tables().items()}
            hits = []
            for hit in frame.to_dict(orient="records"):
                hit = {k: (None if v != v else v) for k, v in hit.items()}  # NaN -> null
                resource = names.get(hit.get("type"))
                hit["url"] = self.url_for_path(f"{PREFIX}/{resource}/{hit['id']}") if resource else None
                hits.append(hit)
            return 200, {"query": query, "data": hits}

        await self.run(work)


class ViewsHandler(ApiHandler):
    async def get(self) -> None:
        def work(ws: Any, _caller: Caller) -> tuple:
            return 200, {"data": views_listing(ws, self.url_for_path(f"{PREFIX}/views/"))}

        await self.run(work)


class ViewHandler(ApiHandler):
    async def get(self, name: str) -> None:
        args = _query_args(self)
        fmt = args.pop("format", "json")
        if fmt not in ("json", "csv"):
            self.send_error_json(400, "format must be json or csv", {"format": "json or csv"})
            return

        def work(ws: Any, _caller: Caller) -> tuple:
            if fmt == "csv":
                filename = name.replace('"', "") + ".csv"
                headers = {
                    "Content-Type": "text/csv; charset=utf-8",
                    "Content-Disposition": f'attachment; filename="{filename}"',
                }
                return 200, view_csv(ws, name, args), headers
            return 200, view_json(ws, name, args)

        await self.run(work)


class CollectionHandler(ApiHandler):
    async def get(self, name: str) -> None:
        args = _query_args(self)

        def work(ws: Any, _caller: Caller) -> tuple:
            table = self.state.table(name)
            data, cursor = records.list_json(ws, table, args)
            headers, after = {}, None
            if cursor:
                query = {k: v for k, v in args.items() if k != "cursor"}
                query["cursor"] = cursor
                after = self.url_for_path(f"{PREFIX}/{name}?{urlencode(query)}")
                headers["Link"] = f'<{after}>; rel="next"'
            tail = json.dumps({"cursor": cursor, "next": after})
            return 200, '{"data":' + data + "," + tail[1:], headers

        await self.run(work)

    async def post(self, name: str) -> None:
        def work(ws: Any, _caller: Caller) -> tuple:
            table = _writable(self.state, ws, name)
            body = self.json_body()
            row = records.create_record(ws, table, body)
            location = self.url_for_path(f"{PREFIX}/{name}/{row.get(table.pk)}")
            return 201, row, {"Location": location}

        await self.run(work)


class ItemHandler(ApiHandler):
    async def get(self, name: str, key: str) -> None:
        def work(ws: Any, _caller: Caller) -> tuple:
            table = self.state.table(name)
            row = records.get_record(ws, table, table.key(key))
            return 200, row, ({"ETag": f'"{row["version"]}"'} if table.versioned else {})

        await self.run(work)

    async def patch(self, name: str, key: str) -> None:
        if_match = _if_match(self)

        def work(ws: Any, _caller: Caller) -> tuple:
            table = _writable(self.state, ws, name)
            body = self.json_body()
            row = records.update_record(ws, table, table.key(key), body, if_match)
            return 200, row, ({"ETag": f'"{row["version"]}"'} if table.versioned else {})

        await self.run(work)

    async def delete(self, name: str, key: str) -> None:
        version = self.get_query_argument("version", None) or _if_match(self)

        def work(ws: Any, _caller: Caller) -> tuple:
            table = _writable(self.state, ws, name)
            body = self.json_body()
            return 200, records.delete_record(ws, table, table.key(key), body, version)

        await self.run(work)


def _if_match(handler: ApiHandler) -> str | None:
    """The version an ``If-Match: "3"`` header names (the ETag a GET answered), or None."""
    value = (handler.request.headers.get("If-Match") or "").strip().removeprefix("W/").strip('"')
    return value or None


def _writable(state: Any, ws: Any, name: str) -> records.Table:
    """The resource ``name``, once the caller may write at all (a viewer: 403 before the body is read)."""
    table = state.table(name)
    if ws.read_only:
        raise PermissionDenied(f"{ws.user}'s token may only read (role viewer): {name} not changed")
    if not table.resource.writable:
        raise ApiError(405, f"{name} is read-only through the API")
    return table


class FallbackHandler(ApiHandler):
    """Anything else under ``/api/``: a JSON 404 (after authentication, so it reveals nothing)."""

    async def get(self, path: str = "") -> None:
        def work(ws: Any, _caller: Caller) -> tuple:
            raise NotFound(f"no API endpoint {PREFIX}/{path} (see {PREFIX}/ and {PREFIX}/openapi.json)")

        await self.run(work)

    post = patch = delete = put = get


def route_specs(state: Any) -> list[tuple[str, type, dict]]:
    """(pattern, handler, kwargs) of every API endpoint, most specific first."""
    kwargs = {"state": state}
    name = r"([a-z][a-z0-9_]*)"
    return [
        (rf"{PREFIX}/?", IndexHandler, kwargs),
        (rf"{PREFIX}/openapi\.json", OpenApiHandler, kwargs),
        (rf"{PREFIX}/search/?", SearchHandler, kwargs),
        (rf"{PREFIX}/views/?", ViewsHandler, kwargs),
        (rf"{PREFIX}/views/([^/]+)", ViewHandler, kwargs),
        (rf"{PREFIX}/{name}/?", CollectionHandler, kwargs),
        (rf"{PREFIX}/{name}/([^/]+)/?", ItemHandler, kwargs),
        (rf"{PREFIX}/(.*)", FallbackHandler, kwargs),
    ]
