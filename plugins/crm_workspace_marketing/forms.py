"""Sign-up forms with double opt-in: a submission waits until its address is confirmed.

``submit`` keeps what a person typed (``form_submissions``) and queues a confirmation
e-mail with a signed link (7 days); nothing about the contact changes yet. ``confirm``
(the page behind that link, with a button: a scanner fetching the link confirms
nothing) creates or updates the contact as a lead, gives marketing consent with the
source ``form <slug>``, puts them on the form's list, and logs the sign-up on their
timeline and in ``marketing_events``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from crm_workspace import CrmError, NotFound
from crm_workspace.core_rules import record_consent
from crm_workspace.data.fields import BadValue, normalize_email
from crm_workspace.data.store import utcnow

from .core import deliver, enqueue_many, mail_from, make_message, public_url, sign, unsign
from .tracking import CONFIRM, record_event

if TYPE_CHECKING:
    from crm_workspace import Workspace

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
CONFIRM_DAYS = 7
PLUGIN = "marketing.forms"
DEFAULT_CONSENT = "Yes, send me news and offers by e-mail. I can unsubscribe at any time."


def validate_form(workspace: Workspace, record: dict, before: dict | None) -> dict[str, str]:
    errors: dict[str, str] = {}
    if "slug" in record or before is None:
        slug = str(record.get("slug") or "").strip().lower()
        record["slug"] = slug
        if not SLUG.match(slug):
            errors["slug"] = "the address is 1–40 lower-case letters, digits and dashes (e.g. newsletter)"
    if ("title" in record or before is None) and not str(record.get("title") or "").strip():
        errors["title"] = "a form needs a title"
    if record.get("status", "open") not in ("open", "closed"):
        errors["status"] = "a form is open or closed"
    segment = record.get("segment_id")
    if segment not in (None, ""):
        kind = workspace.store.scalar("SELECT kind FROM segments WHERE id = ?", [segment])
        if kind != "static":
            errors["segment_id"] = "sign-ups go to a static list (a dynamic segment follows its filter)"
    return errors


def save_form(workspace: Workspace, fields: dict[str, Any], form_id: int | None = None, version=None) -> dict:
    record = {
        k: v
        for k, v in fields.items()
        if k in ("slug", "title", "intro", "consent_text", "thank_you", "segment_id", "status")
    }
    if isinstance(record.get("segment_id"), str) and not record["segment_id"].isdigit():
        from .segments import get_segment

        record["segment_id"] = get_segment(workspace, record["segment_id"])["id"]
    if form_id is None:
        record.setdefault("owner", workspace.user)
        return workspace.store.insert("forms", record)
    return workspace.store.update("forms", form_id, record, version=version)


def get_form(workspace: Workspace, slug: str) -> dict[str, Any]:
    rows = workspace.query("SELECT * FROM forms WHERE slug = ?", [str(slug).strip().lower()])
    if not rows:
        raise NotFound("there is no such form")
    return rows[0]


def form_url(workspace: Workspace, slug: str) -> str:
    return public_url(workspace, f"/f/{slug}")


def submit(
    workspace: Workspace, slug: str, *, email: str, first_name: str = "", last_name: str = "", ip="", user_agent=""
) -> dict[str, Any]:
    """Keep a submission and queue its confirmation e-mail; ``CrmError`` for a bad address or a closed form."""
    form = get_form(workspace, slug)
    if form["status"] != "open":
        raise CrmError("this form is closed")
    try:
        address = normalize_email(str(email or "").strip())
    except BadValue as error:
        raise CrmError(f"please check your e-mail address: {error}") from None
    if not address:
        raise CrmError("please give your e-mail address")
    store = workspace.store
    with store.transaction():
        submission = store.insert(
            "form_submissions",
            {
                "form_id": form["id"],
                "email": address,
                "first_name": str(first_name or "").strip()[:100] or None,
                "last_name": str(last_name or "").strip()[:100] or None,
                "ip": ip[:64] or None,
                "user_agent": (user_agent or "")[:400] or None,
                "submitted_at": utcnow(),
            },
        )
        token = sign(workspace, CONFIRM, {"s": submission["id"]}, max_age=CONFIRM_DAYS * 86400)
        link = public_url(workspace, f"/f/{form['slug']}/confirm/{token}")
        message = make_message(
            to=address,
            subject=f"Please confirm: {form['title']}",
            text=(
                f"Hello{' ' + submission['first_name'] if submission['first_name'] else ''},\n\n"
                f"please confirm that you want to receive e-mail from us ({form['title']}):\n\n{link}\n\n"
                f"If you did not ask for this, ignore this message: nothing happens without your confirmation.\n"
            ),
            sender=mail_from(workspace),
        )
        (outbox_id,) = enqueue_many(
            workspace,
            [
                {
                    "message": message,
                    "key": f"form:{form['id']}:{submission['id']}",
                    "plugin": PLUGIN,
                    "ref_table": "form_submissions",
                    "ref_id": submission["id"],
                }
            ],
        )
        store.update("form_submissions", submission["id"], {"outbox_id": outbox_id})
    return {**submission, "outbox_id": outbox_id, "confirm_url": link}


def send_confirmations(workspace: Workspace, limit: int | None = 20) -> int:
    """Deliver queued confirmation e-mails now; how many went out (failures stay queued for the next tick)."""
    return deliver(workspace, plugin=PLUGIN, limit=limit).sent


def pending(workspace: Workspace, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(form, submission) a confirmation token names; ``BadSignature`` for a bad or expired one."""
    data = unsign(workspace, CONFIRM, token)
    rows = workspace.query("SELECT * FROM form_submissions WHERE id = ?", [data.get("s")])
    if not rows:
        raise NotFound("this sign-up no longer exists")
    form = workspace.query("SELECT * FROM forms WHERE id = ?", [rows[0]["form_id"]])[0]
    return form, rows[0]


def confirm(workspace: Workspace, token: str, *, ip: str = "", user_agent: str = "") -> dict[str, Any]:
    """Confirm a sign-up: the contact (created or updated) as a lead with consent; the contact row."""
    form, submission = pending(workspace, token)
    if submission["confirmed_at"]:
        return workspace.store.get("contacts", submission["contact_id"])
    store = workspace.store
    source = f"form {form['slug']}"
    stages = workspace.lifecycle_stages()
    with store.transaction():
        found = store.query(
            "SELECT * FROM contacts WHERE email = ? COLLATE NOCASE AND email != ''", [submission["email"]]
        )
        if found:
            contact = found[0]
            changes = {k: submission[k] for k in ("first_name", "last_name") if submission[k] and not contact.get(k)}
            if contact.get("lifecycle_stage") in (None, "", "subscriber") and "lead" in stages:
                changes["lifecycle_stage"] = "lead"
            if changes:
                contact = store.update("contacts", contact["id"], changes)
        else:
            contact = store.insert(
                "contacts",
                {
                    "first_name": submission["first_name"],
                    "last_name": submission["last_name"] or (None if submission["first_name"] else submission["email"]),
                    "email": submission["email"],
                    "lifecycle_stage": "lead" if "lead" in stages else None,
                    "source": source,
                    "owner": form.get("owner") if not str(form.get("owner") or "").startswith("system:") else None,
                },
            )
        record_consent(workspace, contact["id"], True, source=source)
        store.update("form_submissions", submission["id"], {"confirmed_at": utcnow(), "contact_id": contact["id"]})
        if form.get("segment_id"):
            store.conn.execute(
                "INSERT OR IGNORE INTO segment_members (segment_id, contact_id, added_at) VALUES (?, ?, ?)",
                [form["segment_id"], contact["id"], utcnow()],
            )
        record_event(
            workspace,
            "signup",
            campaign_id=None,
            contact_id=contact["id"],
            ip=ip,
            user_agent=user_agent,
            machine="",
            form_id=form["id"],
        )
        store.insert(
            "activities",
            {
                "kind": "note",
                "channel": "web",
                "subject": f"Signed up: {form['title']}",
                "contact_id": contact["id"],
                "occurred_at": utcnow(),
                "done": 1,
                "body": f"Confirmed the sign-up form /f/{form['slug']}",
            },
        )
    workspace.changed()
    return store.get("contacts", contact["id"])
