"""The marketing tables, one named migration set (``crm_workspace.marketing``).

- ``segments``: a saved segment (``kind`` dynamic: a filter over contacts; static: a list),
  its filter as JSON, and whether it is broken (filters on a field that no longer exists).
- ``segment_members``: who is in each segment, now. A derived index kept by the plugin:
  a dynamic segment's rows are re-evaluated for the contacts a write changed
  (``crm_record_changed``), a static list's rows are added and removed by people.
"""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.db import Database

from crm_workspace.data.schema import append_only, ensure_table, unique_message

migrations = sqlite_utils.Migrations("crm_workspace.marketing")

_STAMPS = {"created_at": str, "updated_at": str, "updated_by": str, "version": int}

unique_message("segments.name", "another segment already has this name")
unique_message("campaigns.name", "another campaign already has this name")
unique_message("forms.slug", "another form already has this address")


@migrations()
def m001_segments(db: Database) -> None:
    """Segments and their members; an index for "active since" conditions on activities."""
    ensure_table(
        db,
        "segments",
        {
            "id": int,
            "name": str,
            "kind": str,
            "filter": str,
            "description": str,
            "status": str,
            "problem": str,
            "built_at": str,
            "owner": str,
            **_STAMPS,
        },
        ("CREATE UNIQUE INDEX idx_segments_name ON segments(name COLLATE NOCASE)",),
        pk="id",
        not_null={"name", "kind"},
        defaults={"version": 1, "kind": "dynamic", "status": "ok"},
    )
    db.execute(
        "CREATE TABLE IF NOT EXISTS segment_members ("
        " segment_id INTEGER NOT NULL,"
        " contact_id INTEGER NOT NULL, added_at TEXT,"
        " PRIMARY KEY (segment_id, contact_id))"  # a rowid table: privacy erasure removes rows by rowid
    )
    db.execute("CREATE INDEX IF NOT EXISTS idx_segment_members_contact ON segment_members(contact_id, segment_id)")
    # "active in the last N days" as a range scan instead of a lookup per contact
    db.execute("CREATE INDEX IF NOT EXISTS idx_activities_occurred ON activities(occurred_at, contact_id)")


@migrations()
def m002_segment_indexes(db: Database) -> None:
    """Covering indexes for the conditions segments combine most (stage, consent, organization, type, owner).

    A three-condition count at 1M contacts reads one index instead of a row per contact
    (benchmarks/bench_segments.py: ~1.5 s → ~30 ms); every send's audience starts from consent.
    """
    db.execute(
        "CREATE INDEX IF NOT EXISTS idx_contacts_segment_stage"
        " ON contacts(lifecycle_stage, marketing_consent, organization_id, stakeholder_type, owner)"
    )
    db.execute(
        "CREATE INDEX IF NOT EXISTS idx_contacts_segment_consent"
        " ON contacts(marketing_consent, stakeholder_type, owner, organization_id, lifecycle_stage)"
    )


@migrations()
def m003_campaigns(db: Database) -> None:
    """Campaigns, who each one went to (and which A/B variant), its tracked links, events and suppressions.

    - ``campaigns``: the message (subject, html, text, sender, reply_to) and its audience
      (``segment_id``); ``status`` draft → sending → sent; ``ab`` the A/B test as JSON.
    - ``campaign_recipients``: the audience as sent (one row per contact and campaign; the
      ledger of each message is the core's ``mail_outbox`` row ``outbox_id``).
    - ``campaign_links``: the links a campaign's HTML holds; a click token names one by index,
      so a redirect only ever goes to a link of that campaign.
    - ``marketing_events``: every open, click, unsubscribe, bounce, form sign-up as it came
      (address, user agent), ``machine`` set when the team's rules say no person did it.
    - ``marketing_suppressions``: addresses never mailed again (hard bounce, repeated soft bounces).
    """
    ensure_table(
        db,
        "campaigns",
        {
            "id": int,
            "name": str,
            "subject": str,
            "html": str,
            "text": str,
            "sender": str,
            "reply_to": str,
            "segment_id": int,
            "status": str,
            "ab": str,
            "per_minute": int,
            "started_at": str,
            "sent_at": str,
            "owner": str,
            **_STAMPS,
        },
        ("CREATE UNIQUE INDEX idx_campaigns_name ON campaigns(name COLLATE NOCASE)",),
        pk="id",
        not_null={"name", "status"},
        defaults={"version": 1, "status": "draft"},
    )
    ensure_table(
        db,
        "campaign_recipients",
        {
            "id": int,
            "campaign_id": int,
            "contact_id": int,
            "email": str,
            "variant": int,
            "phase": str,
            "outbox_id": int,
            "queued_at": str,
        },
        (
            "CREATE UNIQUE INDEX idx_campaign_recipients ON campaign_recipients(campaign_id, contact_id)",
            "CREATE INDEX idx_campaign_recipients_contact ON campaign_recipients(contact_id)",
        ),
        pk="id",
        not_null={"campaign_id", "contact_id"},
    )
    ensure_table(
        db,
        "campaign_links",
        {"id": int, "campaign_id": int, "position": int, "url": str},
        ("CREATE UNIQUE INDEX idx_campaign_links ON campaign_links(campaign_id, position)",),
        pk="id",
        not_null={"campaign_id", "position", "url"},
    )
    ensure_table(
        db,
        "marketing_events",
        {
            "id": int,
            "at": str,
            "contact_id": int,
            "campaign_id": int,
            "variant": int,
            "kind": str,
            "url": str,
            "ip": str,
            "user_agent": str,
            "machine": int,
            "reason": str,
            "form_id": int,
            "outbox_id": int,
        },
        (
            "CREATE INDEX idx_marketing_events_campaign ON marketing_events(campaign_id, kind, machine, contact_id)",
            "CREATE INDEX idx_marketing_events_contact ON marketing_events(contact_id, at)",
            "CREATE INDEX idx_marketing_events_at ON marketing_events(at, kind)",
        ),
        pk="id",
        not_null={"at", "kind"},
        defaults={"machine": 0},
    )
    append_only(db, "marketing_events")
    ensure_table(
        db,
        "marketing_suppressions",
        {
            "id": int,
            "email": str,
            "contact_id": int,
            "reason": str,
            "detail": str,
            "soft_bounces": int,
            "suppressed": int,
            "at": str,
        },
        ("CREATE UNIQUE INDEX idx_marketing_suppressions_email ON marketing_suppressions(email)",),
        pk="id",
        not_null={"email"},
        defaults={"soft_bounces": 0, "suppressed": 0},
    )


@migrations()
def m004_forms(db: Database) -> None:
    """Public sign-up forms (``/f/<slug>``) and their submissions, pending until the e-mail is confirmed."""
    ensure_table(
        db,
        "forms",
        {
            "id": int,
            "slug": str,
            "title": str,
            "intro": str,
            "consent_text": str,
            "thank_you": str,
            "segment_id": int,
            "status": str,
            "owner": str,
            **_STAMPS,
        },
        ("CREATE UNIQUE INDEX idx_forms_slug ON forms(slug)",),
        pk="id",
        not_null={"slug", "title", "status"},
        defaults={"version": 1, "status": "open"},
    )
    ensure_table(
        db,
        "form_submissions",
        {
            "id": int,
            "form_id": int,
            "email": str,
            "first_name": str,
            "last_name": str,
            "contact_id": int,
            "ip": str,
            "user_agent": str,
            "submitted_at": str,
            "confirmed_at": str,
            "outbox_id": int,
        },
        (
            "CREATE INDEX idx_form_submissions_form ON form_submissions(form_id, submitted_at)",
            "CREATE INDEX idx_form_submissions_email ON form_submissions(email)",
        ),
        pk="id",
        not_null={"form_id", "email", "submitted_at"},
    )


@migrations()
def m005_engagement_index(db: Database) -> None:
    """Segments on "opened / clicked any campaign": people's events by kind, as one index range."""
    db.execute("CREATE INDEX IF NOT EXISTS idx_marketing_events_kind ON marketing_events(kind, machine, contact_id)")


@migrations()
def m006_event_ref(db: Database) -> None:
    """``marketing_events.ref``: which mail without a campaign an open or click came from (``seq:<enrollment>:<step>``)."""
    if "ref" not in db["marketing_events"].columns_dict:
        db.execute("ALTER TABLE marketing_events ADD COLUMN ref TEXT")
    db.execute("CREATE INDEX IF NOT EXISTS idx_marketing_events_ref ON marketing_events(ref, kind, machine)")


@migrations()
def m007_erased(db: Database) -> None:
    """Contacts erased by ``crm privacy erase`` leave every segment and list (and are never in one again).

    The core's ``erased_contacts`` names them (filled from the audit trail's ``erase`` entries for
    people erased before it existed). This migration once made ``marketing_erased``, the plugin's
    own copy of that list; ``m008`` drops it from the files that have it.
    """
    db.execute("DELETE FROM segment_members WHERE contact_id IN (SELECT contact_id FROM erased_contacts)")


@migrations()
def m008_drop_own_erased(db: Database) -> None:
    """Drop ``marketing_erased``: the core's ``erased_contacts`` is the one list of erased people now.

    Nothing writes the old table any more, so kept it would go stale and mislead whoever
    reads it (a report, a notebook). Should it name someone the core's list lacks (an audit trail
    trimmed or edited by hand), that person joins the core's list first. The SQL is written out
    in full, never built from names that may change later: a migration says what it did.
    """
    if db["marketing_erased"].exists():  # anyone only it names joins the core's list before it goes
        db.execute(
            "INSERT OR IGNORE INTO erased_contacts (contact_id, erased_at)"
            " SELECT contact_id, coalesce(erased_at, '') FROM marketing_erased"
        )
        if db["segment_members"].exists():
            db.execute("DELETE FROM segment_members WHERE contact_id IN (SELECT contact_id FROM marketing_erased)")
    db.execute("DROP TABLE IF EXISTS marketing_erased")
