"""The ticket page without a browser: collision detection (presence, stale replies), merging, the queue view."""

from __future__ import annotations

import pytest
from crm_workspace_service import clock, presence
from crm_workspace_service.tickets import create_ticket, post_message
from crm_workspace_service.views.page import ServicePage
from crm_workspace_service.views.ticket_view import TicketView

from crm_workspace.testing import make_workspace, page_text


@pytest.fixture
def ws(tmp_path):
    clock.set_now("2026-11-30T09:00:00Z")
    workspace = make_workspace(tmp_path / "crm.db", user="ana")
    for name in ("ana", "ben"):
        if not workspace.query("SELECT 1 FROM users WHERE username = ?", [name]):
            workspace.store.insert(
                "users",
                {"username": name, "display_name": name.title(), "role": "admin" if name == "ana" else "member"},
            )
    yield workspace
    workspace.close()
    clock.set_now(None)


def test_presence_shows_who_else_is_viewing_or_replying(tmp_path):
    db = tmp_path / "crm.db"
    presence.touch(db, 7, "ana", "s1", "viewing")
    presence.touch(db, 7, "ben", "s2", "viewing")
    presence.touch(db, 7, "ben", "s3", "replying")
    assert presence.others(db, 7, "ana", "s1") == {"ben": "replying"}
    assert presence.others(db, 7, "ben", "s2") == {"ana": "viewing", "ben (another window)": "replying"}
    presence.leave(db, 7, "ben", "s3")
    assert presence.others(db, 7, "ana", "s1") == {"ben": "viewing"}
    presence.TTL, saved = -1, presence.TTL
    try:
        assert presence.others(db, 7, "ana", "s1") == {}  # gone stale
    finally:
        presence.TTL = saved


def test_presence_is_shared_by_serve_processes(tmp_path):
    """Two `crm serve --num-procs 2` workers: an agent in another process is seen, nothing is audited."""
    import subprocess
    import sys

    ws = make_workspace(tmp_path / "crm.db", user="ana")
    try:
        audited = ws.store.scalar("SELECT count(*) FROM audit_log")
        version = ws.store.data_version()
        code = (
            "import sys; from crm_workspace_service import presence;"
            " presence.touch(sys.argv[1], 9, 'ben', 'other-process', 'replying')"
        )
        subprocess.run([sys.executable, "-c", code, str(ws.path)], check=True, timeout=120)
        presence.touch(ws, 9, "ana", "here", "viewing")
        assert presence.others(ws, 9, "ana", "here") == {"ben": "replying"}
        # the workspace is untouched: no audit rows, no commit that would redraw every open page
        assert ws.store.scalar("SELECT count(*) FROM audit_log") == audited
        assert ws.store.data_version() == version
        subprocess.run(
            [sys.executable, "-c", code.replace("touch", "leave").replace(", 'replying'", ""), str(ws.path)],
            check=True,
            timeout=120,
        )
        assert presence.others(ws, 9, "ana", "here") == {}
    finally:
        ws.close()


def test_a_reply_on_a_stale_thread_asks_first(ws):
    kim = ws.store.insert("contacts", {"first_name": "Kim", "email": "kim@customer.example"})["id"]
    ticket = create_ticket(ws, subject="Login fails", requester_id=kim)
    view = TicketView(workspace=ws, ticket_id=ticket["id"])
    # ben answers first, from his own session
    post_message(ws.as_user("ben"), ticket["id"], kind="note", body_text="I am on it", version=ticket["version"])
    view.kind.value = "note"
    view.body.value = "Looking into it"
    view._send()
    assert view.conflict.visible
    text = page_text(view.conflict)
    assert "Someone else updated this ticket" in text and "I am on it" in text
    assert ws.store.scalar("SELECT count(*) FROM ticket_messages WHERE body_text = 'Looking into it'") == 0
    send_anyway = next(w for w in view.conflict.objects[1] if w.label == "Send anyway")
    send_anyway.clicks += 1
    assert ws.store.scalar("SELECT count(*) FROM ticket_messages WHERE body_text = 'Looking into it'") == 1
    assert not view.conflict.visible and view.body.value == ""


def test_a_flagged_ticket_merges_into_its_candidate(ws):
    kim = ws.store.insert("contacts", {"first_name": "Kim", "email": "kim@customer.example"})["id"]
    original = create_ticket(ws, subject="Invoice", requester_id=kim)
    stray = create_ticket(
        ws, subject="Re: Invoice", flag="possible reply to #1 from another address", merge_candidate_id=original["id"]
    )
    post_message(ws, stray["id"], kind="inbound", body_text="from my other address", sender="kim@home.example")
    view = TicketView(workspace=ws, ticket_id=stray["id"])
    assert "possible reply" in page_text(view)
    view._merge()
    assert ws.store.get("tickets", stray["id"])["status"] == "closed"
    assert (
        ws.store.scalar("SELECT ticket_id FROM ticket_messages WHERE body_text = 'from my other address'")
        == original["id"]
    )
    assert ws.page == "service" and ws.page_args == {"id": original["id"]}


def test_the_page_routes_to_a_ticket_and_reports_a_missing_one(ws):
    ticket = create_ticket(ws, subject="Route me")
    page = ServicePage(workspace=ws)
    ws.open_page("service", id=ticket["id"])
    assert "#1 Route me" in page_text(page)
    ws.open_page("service", id=999)
    assert "no ticket #999" in page_text(page)
    ws.open_page("service")
    assert "tickets · showing" in page_text(page)


def test_saved_views_and_bulk_actions_from_the_queue(ws):
    from crm_workspace_service.views.queue_view import QueueView

    for n in range(3):
        create_ticket(ws, subject=f"Billing question {n}", team="billing", priority="high")
    create_ticket(ws, subject="Tech question", team="tech")
    view = QueueView(workspace=ws)
    view.model.team = "billing"
    assert "**3** tickets" in view.info.object
    view.save_name.value = "Billing"
    view._save()
    assert "Billing" in view.saved.options
    view.model.team = ""
    assert "**4** tickets" in view.info.object
    view.saved.value = view.saved.options["Billing"]
    assert view.model.team == "billing" and "**3** tickets" in view.info.object
    view.table.selection = [0, 1]
    view.bulk_assignee.value = "ben"
    view.bulk_assign.clicks += 1
    assert ws.store.scalar("SELECT count(*) FROM tickets WHERE assignee = 'ben'") == 2
    view.bulk_status.value = "pending"
    view.table.selection = [0]
    view.bulk_set.clicks += 1
    assert ws.store.scalar("SELECT count(*) FROM tickets WHERE status = 'pending'") == 1


def test_a_macro_fills_the_composer_with_merge_fields(ws):
    kim = ws.store.insert("contacts", {"first_name": "Kim", "email": "kim@customer.example"})["id"]
    ticket = create_ticket(ws, subject="Where is my order", requester_id=kim)
    ws.store.insert(
        "service_macros",
        {
            "name": "Shipped",
            "body": 'Hi {{ first_name | default("there") }}, #{{ ticket.id }} shipped. {{ agent }}',
            "set_status": "solved",
        },
    )
    ws.store.insert("service_macros", {"name": "Broken", "body": "Hi {{ first_name"})
    view = TicketView(workspace=ws, ticket_id=ticket["id"])
    view.macro.value = view.macro.options["Shipped"]
    assert view.body.value == f"Hi Kim, #{ticket['id']} shipped. Ana" and view.after.value == "solved"
    view.macro.value = view.macro.options["Broken"]  # a broken macro says so, the composer is untouched
    assert view.body.value == f"Hi Kim, #{ticket['id']} shipped. Ana"


def test_another_module_adds_a_section_and_inserts_into_the_reply(ws):
    from crm_workspace import RecordSection, hookimpl
    from crm_workspace.testing import registered

    class Suggestions:
        @hookimpl
        def crm_record_sections(self, workspace, table, record_id):
            if table != "tickets":
                return None
            return [RecordSection("Suggested articles", lambda: "How to reset a password")]

    ticket = create_ticket(ws, subject="Password")
    with registered(ws, Suggestions(), name="kb-test"):
        page = ServicePage(workspace=ws)
        ws.open_page("service", id=ticket["id"])
        view = page.ticket_view
        assert "Suggested articles" in page_text(page) and "How to reset a password" in page_text(page)
        view.body.value = "Hello,"
        ws.open_page("service", id=ticket["id"], insert="See https://kb.example/reset")
        assert page.ticket_view is view  # the same ticket: the draft is kept
        assert view.body.value == "Hello,\n\nSee https://kb.example/reset"


def test_an_agent_opens_a_phone_ticket(ws):
    from crm_workspace_service.views.new_ticket import NewTicket

    form = NewTicket(workspace=ws)
    form.email.value = "not an address"
    form.subject.value = "Called about the invoice"
    form._create()
    assert ws.store.scalar("SELECT count(*) FROM tickets") == 0  # refused, nothing written
    form.email.value = "Caller@Example.com"
    form.text.value = "wants a copy of invoice 12"
    form._create()
    ticket = ws.query("SELECT t.*, c.email FROM tickets t JOIN contacts c ON c.id = t.requester_id")[0]
    assert (ticket["channel"], ticket["email"], ticket["description"]) == (
        "phone",
        "caller@example.com",
        "wants a copy of invoice 12",
    )
    assert ws.page_args == {"id": ticket["id"]}


@pytest.mark.parametrize(
    ("section", "expected"), [("Board", "New ("), ("Metrics", "Open tickets by age"), ("Setup", "Business calendars")]
)
def test_every_section_renders(ws, section, expected):
    create_ticket(ws, subject="Something", team="tech", assignee="ana")
    page = ServicePage(workspace=ws)
    page.section = section
    assert expected in page_text(page)


def test_a_section_offering_insert_text_fills_the_reply(ws):
    """The knowledge base's contract: a section with an ``insert_text`` param; each new value joins the reply."""
    import param as param_lib

    from crm_workspace import RecordSection, hookimpl
    from crm_workspace.testing import registered

    class Offer(param_lib.Parameterized):
        insert_text = param_lib.String(default="")

        def __panel__(self):
            return "Reset your password"

    offer = Offer()

    class Suggestions:
        @hookimpl
        def crm_record_sections(self, workspace, table, record_id):
            return [RecordSection("Suggested articles", lambda: offer)] if table == "tickets" else None

    ticket = create_ticket(ws, subject="Password")
    with registered(ws, Suggestions(), name="kb-offer"):
        view = TicketView(workspace=ws, ticket_id=ticket["id"])
        view.body.value = "Hi,"
        offer.insert_text = "Reset your password: http://localhost:5006/kb/reset"
        assert view.body.value == "Hi,\n\nReset your password: http://localhost:5006/kb/reset"


def test_the_knowledge_base_suggestion_goes_into_the_reply(tmp_path):
    """With the real knowledge plugin (its demo articles): its section shows on the ticket, its insert lands."""
    clock.set_now("2026-11-30T09:00:00Z")
    ws = make_workspace(tmp_path / "crm.db", demo=True, user="ana")
    try:
        names = [p.name for p in ws.plugins()]
        if "knowledge" not in names:
            pytest.skip("the knowledge plugin is not installed")
        ticket = create_ticket(ws, subject="Forgot my password", description="I cannot sign in since this morning")
        view = TicketView(workspace=ws, ticket_id=ticket["id"])
        assert len(view.offers) == 1 and "Reset your password" in page_text(view.sections)
        section = view.offers[0]
        article = section.suggestions()[0]
        section.insert(article)  # what its "Insert into reply" button does
        assert view.body.value == f"{article['title']}: {article['url']}"
    finally:
        ws.close()
        clock.set_now(None)


def test_the_placing_rule_reads_as_words_and_only_where_it_helps():
    from crm_workspace_service.views.ticket_parts import placed_text, thread_html

    assert placed_text("new") == placed_text("header") == ""
    assert placed_text("subject", 12) == "matched by subject tag [#12]"
    assert "merge queue" in placed_text("header-unverified")
    assert placed_text("new (auto-reply)").startswith("auto-reply")
    message = {"id": 1, "kind": "inbound", "author": None, "sender": "a@example.com", "send_status": None}
    page = thread_html([{**message, "created_at": "2026-11-30T09:00:00Z", "body_text": "hi", "placed_by": "new"}], None)
    assert "placed by" not in page and "new" not in page.split("meta")[1]


def test_the_queue_fills_the_width_and_gives_names_room(ws):
    from crm_workspace_service.views.queue_view import QueueView

    table = QueueView(workspace=ws).table
    share = {k: float(v.rstrip("%")) for k, v in table.widths.items()}
    assert sum(share.values()) <= 95  # and the tick boxes' column beside them: no sideways scrolling
    assert share["requester"] >= 12 and share["organization"] >= 12


def test_the_queue_shows_due_in_words_and_sorts_it_by_time(ws):
    import re

    from crm_workspace_service.views.queue_view import QueueView

    for subject, due in (("Later", "2026-12-02T09:00:00Z"), ("Soonest", "2026-11-30T09:30:00Z"),
                         ("Middle", "2026-11-30T14:00:00Z")):  # fmt: skip
        ticket = create_ticket(ws, subject=subject)
        ws.store.update("tickets", ticket["id"], {"sla_due_at": due})
    table = QueueView(workspace=ws).table
    assert table.formatters["due"] == "html"
    frame = table.value.set_index("subject")
    shown = {s: re.sub(r"<[^>]*>", "", frame.loc[s, "due"]) for s in ("Later", "Soonest", "Middle")}
    assert shown == {"Later": "in 2 days", "Soonest": "in 30 minutes", "Middle": "in 5 hours"}
    # a header click sorts the cell values (list_table.js compares them as text): their order is the times'
    assert list(frame["due"].sort_values().index) == ["Soonest", "Middle", "Later"]
    assert sorted(shown, key=shown.get) != ["Soonest", "Middle", "Later"]  # the words alone would not
