"""Demo help articles: four categories, published ones with views and votes, a couple of drafts."""

from __future__ import annotations

import random
from datetime import timedelta

from crm_workspace.services.demo import demo_today, iso

from .model import slugify

CATEGORIES = {
    "Getting started": "Set up your account and find your way around.",
    "Account & billing": "Passwords, invoices, plans and payment methods.",
    "Integrations": "Connect e-mail, calendars and other tools.",
    "Troubleshooting": "When something does not work as expected.",
}

ARTICLES = [
    ("Getting started", "Create your account and invite your team", "onboarding, team",
     "Sign up with your work e-mail, then open **Settings → Users** and invite colleagues.\n\n"
     "1. Enter their e-mail address.\n2. Choose a role: *admin*, *member* or *viewer*.\n3. Press **Invite**.\n\n"
     "Invitations expire after 7 days; you can resend them at any time."),
    ("Getting started", "A tour of the dashboard", "dashboard, navigation",
     "The home page shows your key numbers. Use the menu on the left to open contacts, deals and tickets.\n\n"
     "Press `/` anywhere to search."),
    ("Getting started", "Import contacts from a spreadsheet", "import, excel, csv",
     "Open **Contacts → Import** and choose an `.xlsx` or `.csv` file. Columns are matched by their headers; "
     "rows that cannot be imported are listed in a rejects workbook you can fix and import again."),
    ("Getting started", "Set up your first pipeline", "deals, pipeline",
     "Deals move through stages from *lead* to *won*. Rename stages under **Settings → Pipeline**."),
    ("Account & billing", "Reset your password", "password, login, sign in",
     "Forgot your password? On the sign-in page choose **Forgot password**, enter your e-mail and follow the "
     "link we send you. The link works for one hour.\n\nStill locked out? Ask an admin of your workspace to reset it."),
    ("Account & billing", "Download your invoices", "invoice, billing, receipt",
     "Invoices are under **Settings → Billing → Invoices**. Each one can be downloaded as a PDF."),
    ("Account & billing", "Change your plan or cancel", "plan, upgrade, downgrade, cancel",
     "You can upgrade at any time; the difference is charged pro rata. A downgrade takes effect at the end of "
     "the billing period. To cancel, open **Billing** and choose **Cancel subscription**."),
    ("Account & billing", "Update your payment method", "credit card, payment, billing",
     "Open **Billing → Payment method** and enter the new card. We never store the full card number."),
    ("Integrations", "Connect your Gmail or Outlook mailbox", "email, gmail, outlook, imap",
     "Enter your mailbox address under **Settings → Mail**. We support IMAP and Maildir; for Gmail create an "
     "[app password](https://support.google.com/accounts/answer/185833) first."),
    ("Integrations", "Sync your calendar", "calendar, ical, meetings",
     "Subscribe to your personal iCal feed from **Calendar → Subscribe**. Meetings appear within minutes."),
    ("Integrations", "Use the REST API", "api, token, developer",
     "Create an API token under **Settings → API**. Send it as `Authorization: Bearer <token>`.\n\n"
     "```\ncurl -H 'Authorization: Bearer TOKEN' https://crm.example.com/api/v1/contacts\n```"),
    ("Troubleshooting", "E-mails are not being delivered", "email, delivery, bounce, smtp",
     "Check the outbox for failed messages. A *permanent* failure means the address was refused; a temporary "
     "one is retried automatically with increasing delays."),
    ("Troubleshooting", "The import rejects some rows", "import, errors, rejects",
     "Each rejected row is listed with the reason (an invalid e-mail, an unknown stage...). Fix them in the "
     "rejects workbook and import it again: rows already imported are not duplicated."),
    ("Troubleshooting", "I cannot sign in", "login, password, locked, sign in",
     "Make sure Caps Lock is off, then [reset your password](/kb/reset-your-password). After five wrong "
     "attempts the account is locked for 15 minutes."),
    ("Troubleshooting", "The page loads slowly", "performance, slow, browser",
     "Close unused tabs, update your browser and check your connection. Large exports run in the background."),
    ("Troubleshooting", "Résumé of known issues", "status, incidents",
     "A summary of the issues we are working on. *Draft: to be reviewed by the support lead.*"),
    ("Integrations", "Connect a webhook", "webhook, automation",
     "Webhooks send a signed POST to your address when a record changes. *Draft.*"),
]  # fmt: skip
DRAFTS = {"Résumé of known issues", "Connect a webhook"}


def add_demo(ws, seed: int, today: str | None) -> None:
    rng = random.Random(seed + 2001)
    now = demo_today(today)
    store = ws.store
    cat_ids = {}
    for position, (name, description) in enumerate(CATEGORIES.items(), 1):
        row = store.insert(
            "kb_categories", {"name": name, "slug": slugify(name), "description": description, "position": position}
        )
        cat_ids[name] = row["id"]
    records = []
    for category, title, tags, body in ARTICLES:
        created = now - timedelta(days=rng.randint(30, 400))
        draft = title in DRAFTS
        views = 0 if draft else rng.randint(40, 2500)
        yes = 0 if draft else int(views * rng.uniform(0.02, 0.08))
        records.append(
            {
                "title": title,
                "slug": slugify(title),
                "body_md": body,
                "category_id": cat_ids[category],
                "status": "draft" if draft else "published",
                "author": rng.choice(["admin", "alice", "bob"]),
                "tags": tags,
                "views": views,
                "helpful_yes": yes,
                "helpful_no": 0 if draft else int(yes * rng.uniform(0.05, 0.4)),
                "published_at": None if draft else iso(created + timedelta(days=1)),
                "created_at": iso(created),
                "updated_at": iso(created + timedelta(days=rng.randint(1, 25))),
            }
        )
    store.insert_many("kb_articles", records, audit=False, events=False, validate=False)
