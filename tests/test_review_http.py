"""Security review of plugin routes: secrets in URLs and headers never reach a log."""

from __future__ import annotations

import logging

from crm_workspace import Route
from crm_workspace.services.http import RouteHandler, redact_path
from crm_workspace.testing import route_server


class _Boom(RouteHandler):
    def get(self, token: str) -> None:
        raise RuntimeError("boom")


def test_secret_looking_segments_and_queries_are_redacted():
    assert redact_path("/ical/AbCdEf0123456789_-xyzXYZ.ics") == "/ical/<redacted>.ics"
    assert redact_path("/unsubscribe?t=secret-signed-token") == "/unsubscribe"
    assert redact_path("/api/contacts/12") == "/api/contacts/12"


def test_access_and_error_logs_name_no_token(workspace, caplog, monkeypatch):
    import crm_workspace.web.server as server_module

    token = "S3cr3tT0k3nS3cr3tT0k3n"
    caplog.set_level(logging.INFO)
    route = Route(r"/boom/([A-Za-z0-9]+)", _Boom)
    monkeypatch.setattr(server_module, "route_patterns", lambda ws: [(route.pattern, route.handler, {"workspace": ws})])
    with route_server(workspace) as server:
        assert (
            server.request("GET", f"/boom/{token}?t=another-secret", headers={"Authorization": "Bearer xyz"})[0] == 500
        )
    text = caplog.text
    assert "boom" in text and "/boom/<redacted>" in text
    assert token not in text and "another-secret" not in text and "Bearer xyz" not in text
