"""Shared by the marketing tests: a consenting audience, the plugin's routes on a real local HTTP server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from urllib.parse import urlsplit

from crm_workspace_marketing import campaigns, segments

from crm_workspace import Workspace
from crm_workspace.core_rules import record_consent
from crm_workspace.testing import RouteServer, route_server


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
    """The plugin's routes on the core's ``route_server``, requested by full URL (as a mail client would)."""

    def __init__(self, server: RouteServer):
        self.server = server
        self.base = server.url

    def request(self, url: str, method: str = "GET", body: bytes | None = None, headers: dict | None = None):
        """(status, headers, text) of one request to a URL of this server (redirects not followed)."""
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        browser = {"User-Agent": "Mozilla/5.0 (X11; Linux) Firefox/128.0"}
        status, found, raw = self.server.request(method, path, body, {**browser, **(headers or {})})
        return status, found, raw.decode("utf-8", "replace")


@contextmanager
def served_routes(ws: Workspace) -> Iterator[Routes]:
    """The routes served, and ``public_url`` pointing at them so the links in sent mail lead there."""
    with route_server(ws) as server:
        ws.set_setting("public_url", server.url)
        yield Routes(server)


def unsubscribe_link(message: EmailMessage) -> str:
    return re.match(r"<([^>]+)>", str(message["List-Unsubscribe"])).group(1)


def html_of(message: EmailMessage) -> str:
    return message.get_body(("html",)).get_content()


def links_in(message: EmailMessage) -> list[str]:
    return re.findall(r'href=["\']([^"\']+)["\']', html_of(message))


def pixel_in(message: EmailMessage) -> str:
    return re.search(r'<img src="([^"]+\.gif)"', html_of(message)).group(1)
