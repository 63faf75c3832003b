"""Calendars: the iCalendar feed over real HTTP, feed tokens, and .ics import."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from crm_workspace_calendar import feeds
from crm_workspace_calendar.icsread import MAX_OCCURRENCES, CalendarImportError
from crm_workspace_calendar.imports import import_calendar
from icalendar import Calendar

from crm_workspace.cli import cli
from crm_workspace.errors import PermissionDenied
from crm_workspace.testing import page_text, route_server

NOW = datetime.now(UTC).replace(microsecond=0)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def ws(workspace):
    store = workspace.store
    store.insert("users", {"username": "tester", "role": "admin", "email": "tester@team.example"})
    store.insert("users", {"username": "ana", "role": "member", "email": "Ana@Team.example", "display_name": "Ana"})
    store.insert("users", {"username": "val", "role": "viewer"})
    org = store.insert("organizations", {"name": 'Acme; Inc, "Global"'})
    store.insert(
        "contacts",
        {"first_name": "Maria", "last_name": "Lopez, Jr.", "email": "maria@acme.example", "organization_id": org["id"]},
    )
    store.insert("contacts", {"first_name": "Tom", "last_name": "Ng", "email": "TOM@acme.example"})
    return workspace


def _activity(ws, **fields):
    return ws.store.insert("activities", {"contact_id": 1, "organization_id": 1, **fields})


def test_feed_has_the_users_tasks_and_meetings_and_no_one_elses(ws):
    task = _activity(ws, kind="task", subject="Send offer", due_at=_iso(NOW + timedelta(days=2)), owner="ana")
    meeting = _activity(
        ws,
        kind="meeting",
        subject="Kick-off; phase 1",
        occurred_at=_iso(NOW + timedelta(days=5)),
        owner="ana",
        body="Line one\nLine two",
    )
    _activity(ws, kind="meeting", subject="Tester's meeting", occurred_at=_iso(NOW + timedelta(days=1)), owner="tester")
    _activity(ws, kind="call", subject="A call", occurred_at=_iso(NOW), owner="ana")
    _activity(ws, kind="meeting", subject="Long ago", occurred_at=_iso(NOW - timedelta(days=400)), owner="ana")
    ws.store.update("activities", task["id"], {"subject": "Send the offer"}, version=task["version"])
    token = feeds.make_feed(ws, "ana")
    with route_server(ws) as server:
        status, headers, body = server.request("GET", f"/ical/{token}.ics")
        assert status == 200 and headers["Content-Type"].startswith("text/calendar")
        cal = Calendar.from_ical(body)
        events = {str(e["uid"]): e for e in cal.walk("VEVENT")}
        host = feeds.host_of(ws)
        assert set(events) == {f"activity-{task['id']}@{host}", f"activity-{meeting['id']}@{host}"}
        t, m = events[f"activity-{task['id']}@{host}"], events[f"activity-{meeting['id']}@{host}"]
        assert str(t["summary"]) == "Task: Send the offer (Maria Lopez, Jr.)" and int(t["sequence"]) == 1
        assert str(m["summary"]) == "Kick-off; phase 1 (Maria Lopez, Jr.)" and int(m["sequence"]) == 0
        assert 'Organization: Acme; Inc, "Global"' in str(m["description"]) and "Line one\nLine two" in str(
            m["description"]
        )
        assert b"Kick-off\\; phase 1 (Maria Lopez\\, Jr.)" in body  # escaped in the raw text
        assert m.decoded("dtstart") == NOW + timedelta(days=5) and m.decoded("dtstart").utcoffset() == timedelta(0)
        assert m.decoded("dtend") - m.decoded("dtstart") == timedelta(hours=1)
        assert "dtstamp" in m and str(t["transp"]) == "TRANSPARENT"
        # a calendar app polling: 304 while nothing changed, 200 after a change
        etag = headers["Etag"]
        assert headers.get("Last-Modified")
        status, _, body2 = server.request("GET", f"/ical/{token}.ics", headers={"If-None-Match": etag})
        assert status == 304 and body2 == b""
        ws.store.update("activities", meeting["id"], {"subject": "Moved"}, version=meeting["version"])
        status, headers2, _ = server.request("GET", f"/ical/{token}.ics", headers={"If-None-Match": etag})
        assert status == 200 and headers2["Etag"] != etag


def test_revoked_or_unknown_token_is_a_bare_404(ws):
    first = feeds.make_feed(ws, "ana")
    second = feeds.make_feed(ws, "ana")  # a new address revokes the old one
    with route_server(ws) as server:
        assert server.request("GET", f"/ical/{first}.ics")[0] == 404
        assert server.request("GET", f"/ical/{second}.ics")[0] == 200
        assert feeds.revoke_feeds(ws, "ana") == 1
        status, _, body = server.request("GET", f"/ical/{second}.ics")
        assert status == 404 and b"ana" not in body and b"revoked" not in body.lower()
        assert server.request("GET", "/ical/" + "x" * 43 + ".ics")[0] == 404
    assert ws.store.scalar("SELECT count(*) FROM calendar_feeds WHERE token_hash = ?", [second]) == 0  # hashed


def test_only_admins_manage_other_users_feeds(ws):
    ana = ws.as_user("ana")
    assert feeds.make_feed(ana, "ana")
    with pytest.raises(PermissionDenied):
        feeds.make_feed(ana, "tester")
    with pytest.raises(PermissionDenied):
        feeds.make_feed(ws.as_user("val"), "val")
    assert feeds.make_feed(ws, "ana")  # the admin
    assert {r["user"] for r in feeds.feeds(ana)} == {"ana"}


def test_cli_prints_the_feed_url_last(ws):
    runner = CliRunner()
    result = runner.invoke(cli, ["--db", ws.path, "--user", "tester", "calendar", "feed", "ana"])
    assert result.exit_code == 0, result.output
    url = result.output.strip().splitlines()[-1]
    assert url.startswith("http://localhost:5006/ical/") and url.endswith(".ics")
    assert feeds.feed_user(ws, url.rsplit("/", 1)[1].removesuffix(".ics")) == "ana"
    result = runner.invoke(cli, ["--db", ws.path, "--user", "tester", "calendar", "feed", "ana", "--revoke"])
    assert result.exit_code == 0 and "revoked 1" in result.output


def _ics(*events: str, method: str = "") -> bytes:
    head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n" + (f"METHOD:{method}\r\n" if method else "")
    return (head + "".join(events) + "END:VCALENDAR\r\n").encode()


def _event(uid: str, start: datetime, *, summary="Review", attendees=(), seq=0, extra="") -> str:
    people = "".join(f"ATTENDEE;CN=Person {i}:mailto:{a}\r\n" for i, a in enumerate(attendees))
    return (
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:{start.strftime('%Y%m%dT%H%M%SZ')}\r\n"
        f"DTEND:{(start + timedelta(minutes=45)).strftime('%Y%m%dT%H%M%SZ')}\r\nSUMMARY:{summary}\r\nSEQUENCE:{seq}\r\n"
        f"ORGANIZER;CN=Ana:mailto:ana@team.example\r\n{people}{extra}END:VEVENT\r\n"
    )


def _meetings(ws):
    return ws.store.query("SELECT a.* FROM activities a WHERE kind = 'meeting' ORDER BY contact_id, occurred_at")


def test_import_matches_attendees_and_twice_is_once(ws):
    start = NOW + timedelta(days=3)
    data = _ics(
        _event(
            "e1@x",
            start,
            summary="QBR, Q4",
            attendees=("Maria@ACME.example", "tom@acme.example", "stranger@else.example", "ana@team.example"),
        )
    )
    result = import_calendar(ws, data, "invite.ics")
    assert result.created == 2 and set(result.unknown) == {"stranger@else.example"}
    rows = _meetings(ws)
    assert [r["contact_id"] for r in rows] == [1, 2] and {r["subject"] for r in rows} == {"QBR, Q4"}
    assert rows[0]["organization_id"] == 1 and rows[0]["occurred_at"] == _iso(start)
    assert not ws.store.scalar("SELECT count(*) FROM contacts WHERE email = 'stranger@else.example'")
    again = import_calendar(ws, data, "invite.ics")
    assert again.created == 0 and again.unchanged == 2 and len(_meetings(ws)) == 2
    moved = _ics(
        _event("e1@x", start + timedelta(hours=2), summary="QBR moved", attendees=("maria@acme.example",), seq=1)
    )
    result = import_calendar(ws, moved, "invite.ics")
    assert result.updated == 1 and result.created == 0
    assert {(r["contact_id"], r["subject"]) for r in _meetings(ws)} == {(1, "QBR moved"), (2, "QBR, Q4")}
    cancelled = _ics(_event("e1@x", start, attendees=("maria@acme.example",), seq=2), method="CANCEL")
    import_calendar(ws, cancelled, "cancel.ics")
    assert _meetings(ws)[0]["subject"] == "Cancelled: QBR moved"


def test_imported_meeting_is_in_the_importers_feed_with_its_length(ws):
    start = NOW + timedelta(days=1)
    import_calendar(ws.as_user("ana"), _ics(_event("e2@x", start, attendees=("tom@acme.example",))), "a.ics")
    body, _ = feeds.build_feed(ws, "ana")
    (event,) = Calendar.from_ical(body).walk("VEVENT")
    assert event.decoded("dtend") - event.decoded("dtstart") == timedelta(minutes=45)


def test_unbounded_rrule_is_bounded(ws):
    start = NOW - timedelta(days=1000)
    daily = _event("daily@x", start, attendees=("tom@acme.example",), extra="RRULE:FREQ=DAILY\r\n")
    result = import_calendar(ws, _ics(daily), "daily.ics")
    assert result.created == MAX_OCCURRENCES and any("only the first" in w for w in result.warnings)
    weekly = _event("weekly@x", start, attendees=("maria@acme.example",), extra="RRULE:FREQ=WEEKLY\r\n")
    result = import_calendar(ws, _ics(weekly), "weekly.ics")
    assert 100 <= result.created <= 106  # a year back and a year ahead, no more
    assert import_calendar(ws, _ics(weekly), "weekly.ics").created == 0


def test_too_many_attendees_are_capped_with_a_message(ws):
    crowd = [f"p{i}@crowd.example" for i in range(3000)] + ["tom@acme.example"]
    result = import_calendar(ws, _ics(_event("big@x", NOW, attendees=crowd)), "big.ics")
    assert any("3001 attendees" in w for w in result.warnings) and len(result.unknown) == 200
    assert result.created == 0 and "Review" in result.unmatched


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"hello world", "not a valid iCalendar file"),
        (_ics("BEGIN:VEVENT\r\nUID:a\r\nSUMMARY:no start\r\nEND:VEVENT\r\n"), "has no DTSTART"),
        (_ics("BEGIN:VEVENT\r\nUID:a\r\nDTSTART:2026XX\r\nEND:VEVENT\r\n"), "DTSTART is not a valid date"),
        (b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\n", "no complete"),
        (b"BEGIN:VCALENDAR\r\n" + b"X-PAD:" + b"x" * 6_000_000 + b"\r\nEND:VCALENDAR\r\n", "MB"),
    ],
)
def test_malformed_file_writes_nothing(ws, data, message):
    good = _event("good@x", NOW, attendees=("tom@acme.example",))
    bad = data.replace(b"END:VCALENDAR", good.encode() + b"END:VCALENDAR", 1) if b"VEVENT" in data else data
    with pytest.raises(CalendarImportError, match=message):
        import_calendar(ws, bad, "bad.ics")
    assert not _meetings(ws) and not ws.store.scalar("SELECT count(*) FROM calendar_events")


def test_invitation_email_is_imported(ws):
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "maria@acme.example", "ana@team.example", "Invitation"
    message.set_content("You are invited")
    message.add_attachment(
        _ics(_event("inv@x", NOW + timedelta(days=7), attendees=("maria@acme.example",)), method="REQUEST"),
        maintype="text",
        subtype="calendar",
        filename="invite.ics",
    )
    result = import_calendar(ws, message.as_bytes(), "invite.eml")
    assert result.created == 1


def test_cli_import_and_page(ws, tmp_path):
    path = tmp_path / "m.ics"
    path.write_bytes(
        _ics(
            _event(
                "cli@x", NOW + timedelta(days=2), summary="From CLI", attendees=("tom@acme.example", "who@else.example")
            )
        )
    )
    result = CliRunner().invoke(cli, ["--db", ws.path, "--user", "tester", "calendar", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "1 logged" in result.output and "who@else.example" in result.output
    (tmp_path / "bad.ics").write_bytes(b"nonsense")
    result = CliRunner().invoke(
        cli, ["--db", ws.path, "--user", "tester", "calendar", "import", str(tmp_path / "bad.ics")]
    )
    assert result.exit_code == 1 and "not a valid iCalendar file" in result.output and "Traceback" not in result.output
    text = page_text(ws.dashboard("calendar"))
    assert "From CLI" in text and "Calendar feed" in text
    assert list(ws.df("calendar.upcoming", user=None)["subject"]) == ["From CLI"]


def test_invitations_mailbox_is_imported_by_the_tick(ws, tmp_path):
    import mailbox
    from email.message import EmailMessage

    from crm_workspace.services.mailbox import open_mailbox
    from crm_workspace.services.scheduler import run_ticks

    box = mailbox.Maildir(tmp_path / "invites", create=True)
    invite = EmailMessage()
    invite["From"], invite["To"], invite["Subject"] = "maria@acme.example", "ana@team.example", "Invitation: Demo"
    invite.set_content("Join us")
    ics = _ics(
        _event("mail@x", NOW + timedelta(days=4), summary="Demo", attendees=("maria@acme.example",)), method="REQUEST"
    )
    invite.add_attachment(ics, maintype="text", subtype="calendar", filename="invite.ics")
    box.add(invite.as_bytes())
    box.add(b"From: someone@else.example\nSubject: no invitation\n\nhello\n")
    ws.set_setting("calendar_mailbox", str(tmp_path / "invites"))
    results = run_ticks(ws, now=_iso(NOW), plugins=["calendar"])
    assert [r.ok for r in results] == [True], results
    (meeting,) = _meetings(ws)
    assert meeting["subject"] == "Demo" and meeting["owner"] == "ana"  # the organizer on the team
    assert list(open_mailbox(str(tmp_path / "invites")).unread()) == []
    run_ticks(ws, now=_iso(NOW), plugins=["calendar"])
    assert len(_meetings(ws)) == 1


def test_pages_are_read_only_for_viewers(ws):
    from crm_workspace_calendar.views import CalendarPage
    from crm_workspace_maillog.views import MailLogPage

    viewer = CalendarPage(workspace=ws.as_user("val"))
    assert viewer._make.disabled and viewer._import.disabled and viewer._upload.disabled
    assert not CalendarPage(workspace=ws.as_user("ana"))._make.disabled
    assert all(button.disabled for button in MailLogPage(workspace=ws.as_user("val"))._buttons)
    assert not any(button.disabled for button in MailLogPage(workspace=ws.as_user("ana"))._buttons)
    page = CalendarPage(workspace=ws.as_user("ana"))
    page.model.make_feed()
    assert page.model.feed_link.startswith("http://localhost:5006/ical/") and not page.model.failed
    page.model.feed_user = "tester"
    page.model.make_feed()  # a member may not make another user's feed: said, not raised
    assert page.model.failed and "only an admin" in page.model.message


def test_moved_or_deleted_meetings_are_not_logged_again(ws):
    data = _ics(_event("m@x", NOW, attendees=("maria@acme.example",)))
    import_calendar(ws, data, "a.ics")
    (maria,) = _meetings(ws)
    ws.store.update("activities", maria["id"], {"contact_id": 2}, version=maria["version"])  # e.g. a merge
    assert ws.store.scalar("SELECT contact_id FROM calendar_events") == 2  # the key followed it
    ws.store.update("contacts", 2, {"email": "maria.new@acme.example"})
    ws.store.update("contacts", 1, {"email": None})
    moved = _ics(_event("m@x", NOW, attendees=("maria.new@acme.example",)))
    assert import_calendar(ws, moved, "a.ics").unchanged == 1 and len(_meetings(ws)) == 1
    ws.store.delete("activities", maria["id"])  # a person removed it: importing again does not resurrect it
    assert import_calendar(ws, moved, "a.ics").created == 0 and _meetings(ws) == []


def test_declined_attendees_get_no_meeting(ws):
    extra = "ATTENDEE;PARTSTAT=DECLINED;CN=Tom:mailto:tom@acme.example\r\n"
    result = import_calendar(ws, _ics(_event("d@x", NOW, attendees=("maria@acme.example",), extra=extra)), "d.ics")
    assert result.created == 1 and [m["contact_id"] for m in _meetings(ws)] == [1]


def test_the_feed_as_a_dataframe(ws):
    _activity(ws, kind="task", subject="Call back", due_at=_iso(NOW + timedelta(days=1)), owner="ana")
    frame = ws.df("calendar.feed", user="ana")
    assert list(frame["subject"]) == ["Call back"] and list(frame["kind"]) == ["task"]


@pytest.mark.parametrize(
    "rule", ["FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", "FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30", "FREQ=HOURLY;BYHOUR=25"]
)
def test_a_runaway_rrule_costs_no_more_than_a_moment(ws, rule):
    import time as clock

    from crm_workspace_calendar.icsread import CalendarImportError, read_calendars

    start = datetime.now(UTC) + timedelta(days=1)
    started = clock.perf_counter()
    try:
        reading = read_calendars(_ics(_event("bomb@x", start, extra=f"RRULE:{rule}\r\n")), "bomb.ics")
    except CalendarImportError:
        reading = None
    assert clock.perf_counter() - started < 5
    if reading is not None:
        assert len(reading.occurrences) <= 1


def test_a_file_of_many_runaway_rules_is_refused(ws):
    from crm_workspace_calendar.icsread import CalendarImportError, read_calendars

    start = datetime.now(UTC) + timedelta(days=1)
    bombs = [_event(f"b{i}@x", start, extra="RRULE:FREQ=MINUTELY\r\n") for i in range(10)]
    with pytest.raises(CalendarImportError, match="no calendar makes"):
        read_calendars(_ics(*bombs), "bombs.ics")


def test_the_demo_gives_every_member_upcoming_meetings_and_tasks(demo_db):
    from crm_workspace_calendar.feeds import feed_rows
    from crm_workspace_calendar.imports import upcoming

    from crm_workspace import Workspace

    ws = Workspace.open(demo_db, user="ana")
    try:
        members = [r["username"] for r in ws.store.query("SELECT username FROM users WHERE role != 'viewer'")]
        assert "ana" in members
        for user in members:
            meetings = upcoming(ws, user=user, days=30)
            assert len(meetings) >= 3 and all(m["owner"] == user for m in meetings)
            assert sum(r["kind"] == "task" and not r["done"] for r in feed_rows(ws, user)) >= 3
    finally:
        ws.close()
