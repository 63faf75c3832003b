"""The customer portal over real HTTP: a signed link shows the requester's tickets, their answer joins."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from crm_workspace_service import clock
from crm_workspace_service.portal import portal_link
from crm_workspace_service.tickets import add_attachment, create_ticket, post_message

from crm_workspace.testing import make_workspace, route_server


@pytest.fixture
def ws(tmp_path):
    clock.set_now("2026-11-30T09:00:00Z")
    workspace = make_workspace(tmp_path / "crm.db", user="ana")
    yield workspace
    workspace.close()
    clock.set_now(None)


def test_the_portal_shows_own_tickets_takes_answers_and_serves_downloads(ws):
    kim = ws.store.insert("contacts", {"first_name": "Kim", "email": "kim@customer.example"})["id"]
    other = ws.store.insert("contacts", {"first_name": "Lou", "email": "lou@customer.example"})["id"]
    ticket = create_ticket(ws, subject="Broken <b>widget</b>", requester_id=kim)
    hidden = create_ticket(ws, subject="Lou's secret", requester_id=other)
    inbound = post_message(ws, ticket["id"], kind="inbound", body_text="It broke.", sender="kim@customer.example")
    post_message(ws, ticket["id"], kind="note", body_text="internal: customer is grumpy")
    add_attachment(
        ws,
        ticket["id"],
        inbound["id"],
        filename='../"evil".html',
        data=b"<script>alert(1)</script>",
        content_type="text/html",
    )
    attachment = ws.query("SELECT id FROM ticket_attachments")[0]["id"]
    path = portal_link(ws, kim).split("://", 1)[1].split("/", 1)[1]
    token = path.rsplit("/", 1)[1]
    with route_server(ws) as server:
        status, _, body = server.request("GET", "/" + path)
        page = body.decode()
        assert status == 200 and f"#{ticket['id']}" in page and "Lou" not in page
        assert "Broken &lt;b&gt;widget&lt;/b&gt;" in page  # escaped
        status, _, body = server.request("GET", f"/s/p/{token}/{ticket['id']}")
        page = body.decode()
        assert status == 200 and "It broke." in page and "grumpy" not in page  # notes stay internal
        # someone else's ticket, a tampered link
        assert server.request("GET", f"/s/p/{token}/{hidden['id']}")[0] == 404
        assert server.request("GET", f"/s/p/{token[:-2]}xx/{ticket['id']}")[0] == 400
        # the download is an attachment of a neutral type, never rendered
        status, headers, body = server.request("GET", f"/s/p/{token}/a/{attachment}")
        assert status == 200 and body == b"<script>alert(1)</script>"
        assert headers["Content-Type"] == "application/octet-stream"
        assert headers["Content-Disposition"].startswith('attachment; filename="evil.html"')
        assert headers["X-Content-Type-Options"] == "nosniff"
        # the requester answers through the portal
        form = urlencode({"body": "Here are more details."})
        status, headers, _ = server.request(
            "POST", f"/s/p/{token}/{ticket['id']}", form, {"Content-Type": "application/x-www-form-urlencoded"}
        )
        assert status == 303
    joined = ws.query(
        "SELECT kind, placed_by, sender, author_contact_id FROM ticket_messages WHERE body_text = 'Here are more details.'"
    )
    assert joined == [
        {"kind": "inbound", "placed_by": "portal", "sender": "kim@customer.example", "author_contact_id": kim}
    ]
