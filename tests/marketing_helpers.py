"""Shared by the marketing tests: a consenting audience, the plugin's routes on a real local HTTP server."""

from __future__ import annotations

import asyncio
import http.client
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from urllib.parse import urlsplit

from crm_workspace_marketing import campaigns, segments

from crm_workspace import Workspace
from crm_workspace.core_rules import record_consent
from crm_workspace.testing import free_port


def audience(ws: Workspace, n: int = 12, tag: str = "aud") -> dict[str, list[int]]:
    """``n`` new contacts on a static list ``tag``: a third consenting, one withdrawn, the rest never asked."""
    ids: dict[str, list[int]] = {"given": [], "withdrawn": [], "never": []}
    people = []
    for i in range(n):
        row = ws.store.insert(
            "contacts", {"first_name": f"P{i}", "last_name": tag.title(), "email": f"{tag}{i}@example.com"}
        )
        people.append(row["id"])
        if i % 3 == 0:
            record_consent(ws, row["id"], True, source="test form")
            ids["given"].append(row["id"])
        elif i == 1:
            record_consent(ws, row["id"], True, source="test form")
            record_consent(ws, row["id"], False, source="test")
            ids["withdrawn"].append(row["id"])
        else:
            ids["never"].append(row["id"])
    segments.save_segment(ws, tag, kind="static")
    segments.add_members(ws, tag, people)
    return ids


def campaign(ws: Workspace, name: str, segment: str, **fields) -> dict:
    return campaigns.save_campaign(
        ws,
        {
            "name": name,
            "subject": "News for {{ first_name | default('you') }}",
            "html": '<html><body><p>Hello {{ first_name }}</p><a href="https://example.com/offer?a=1&amp;b=2">Offer</a>'
            '<a href="https://example.com/blog">Blog</a></body></html>',
            "text": "Hello {{ first_name }}\nhttps://example.com/offer",
            "segment_id": segment,
            **fields,
        },
    )


class Routes:
    """The plugin's routes served by Tornado on 127.0.0.1 in a thread, acting as system:marketing."""

    def __init__(self, ws: Workspace):
        import tornado.httpserver
        import tornado.web

        self.port = free_port()
        system = ws.as_system("marketing")
        patterns = [(r.pattern, r.handler, {**r.kwargs, "workspace": system}) for r in ws.routes()]
        self.app = tornado.web.Application(patterns)
        self.loop = asyncio.new_event_loop()
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.server = tornado.httpserver.HTTPServer(self.app)
            self.server.listen(self.port, "127.0.0.1")
            started.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        started.wait(10)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request(self, url: str, method: str = "GET", body: bytes | None = None, headers: dict | None = None):
        """(status, headers, text) of one request to a URL of this server (redirects not followed)."""
        parts = urlsplit(url)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            conn.request(
                method, path, body, {"User-Agent": "Mozilla/5.0 (X11; Linux) Firefox/128.0", **(headers or {})}
            )
            response = conn.getresponse()
            return response.status, response.msg, response.read().decode("utf-8", "replace")
        finally:
            conn.close()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.server.stop)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@contextmanager
def served_routes(ws: Workspace) -> Iterator[Routes]:
    ws.set_setting("public_url", "http://127.0.0.1:1")  # replaced below, once the port is known
    routes = Routes(ws)
    ws.set_setting("public_url", routes.base)
    try:
        yield routes
    finally:
        routes.stop()


def unsubscribe_link(message: EmailMessage) -> str:
    return re.match(r"<([^>]+)>", str(message["List-Unsubscribe"])).group(1)


def html_of(message: EmailMessage) -> str:
    return message.get_body(("html",)).get_content()


def links_in(message: EmailMessage) -> list[str]:
    return re.findall(r'href=["\']([^"\']+)["\']', html_of(message))


def pixel_in(message: EmailMessage) -> str:
    return re.search(r'<img src="([^"]+\.gif)"', html_of(message)).group(1)
