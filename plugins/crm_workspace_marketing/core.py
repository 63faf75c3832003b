"""The core services marketing stands on, imported in this one place (mail, templates, signing, HTTP).

``crm_workspace.services.mailer``/``outbox``/``templates``/``mailbox`` (core mail) and
``signing``/``http`` (core web); see docs/internals.md.
"""

from __future__ import annotations

from crm_workspace.services.compose import MessageTemplate, Prepared
from crm_workspace.services.http import RateLimiter, RouteHandler, escape
from crm_workspace.services.mailbox import open_mailbox
from crm_workspace.services.mailer import Mailer, MailError, mail_from, make_message
from crm_workspace.services.outbox import counts, deliver, enqueue_many, outbox_rows
from crm_workspace.services.signing import BadSignature, public_url, sign, unsign
from crm_workspace.services.templates import TemplateProblem, render

__all__ = [
    "BadSignature",
    "MailError",
    "Mailer",
    "MessageTemplate",
    "Prepared",
    "RateLimiter",
    "RouteHandler",
    "TemplateProblem",
    "counts",
    "deliver",
    "enqueue_many",
    "escape",
    "mail_from",
    "make_message",
    "open_mailbox",
    "outbox_rows",
    "public_url",
    "render",
    "sign",
    "unsign",
]
