"""The public links a campaign's mail carries, served by ``crm serve`` beside the app (``crm_routes``).

- ``/m/u/<token>``: GET shows a confirmation page with one button; POST (that button, or a
  mail provider's RFC 8058 one-click ``List-Unsubscribe=One-Click``) withdraws consent.
- ``/m/o/<token>.gif``: the open pixel.
- ``/m/c/<token>``: a click, redirected to the link of that campaign the token names by
  position (never to a URL from the request: no open redirect).
- ``/m/l/<token>``: a click in mail without a campaign (a sequence step): the token signs the
  target URL itself and a ``ref``; only that signed URL is ever redirected to.

A changed, foreign or expired token gets a plain page and nothing is recorded. Each
handler's workspace acts as ``system:marketing``.
"""

from __future__ import annotations

import base64
import logging

from crm_workspace import Route

from . import tracking
from .core import BadSignature, RouteHandler, escape
from .tracking import TOKEN

log = logging.getLogger(__name__)

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


class _Tracked(RouteHandler):
    def _token(self, purpose: str, token: str) -> dict | None:
        """What the token names; None (after answering with a plain page) when it is not valid."""
        try:
            return tracking.read_token(self.workspace, purpose, token)
        except BadSignature as error:
            self.write_page("Link not valid", f"<p>{escape(str(error))}.</p><p>Nothing was changed.</p>", status=400)
            return None

    @property
    def user_agent(self) -> str:
        return self.request.headers.get("User-Agent", "")


class Unsubscribe(_Tracked):
    """Confirm page on GET; the withdrawal on POST (the page's button or a one-click POST)."""

    max_body_bytes = 10_000

    def get(self, token: str) -> None:
        data = self._token(tracking.UNSUBSCRIBE, token)
        if data is None:
            return
        if data.get("t"):
            self.write_page("Unsubscribe (test)", "<p>This link came in a test message: nothing is changed.</p>")
            return
        contact = self._contact(data)
        if contact is None:
            return
        if contact.get("marketing_consent") == 0:
            self.write_page("You are unsubscribed", "<p>You will not receive our marketing e-mails any more.</p>")
            return
        email = escape(_masked(contact.get("email") or ""))
        self.write_page(
            "Unsubscribe",
            f"<p>Stop marketing e-mails to <strong>{email}</strong>?</p>"
            f'<form method="post" action="{escape(self.request.path)}">'
            '<input type="hidden" name="confirm" value="1">'
            '<button type="submit">Unsubscribe</button></form>',
        )

    def post(self, token: str) -> None:
        data = self._token(tracking.UNSUBSCRIBE, token)
        if data is None:
            return
        if data.get("t"):
            self.write_page("Unsubscribe (test)", "<p>This link came in a test message: nothing is changed.</p>")
            return
        contact = self._contact(data)
        if contact is None:
            return
        tracking.unsubscribe(
            self.workspace, data.get("c"), contact["id"], ip=self.client_ip, user_agent=self.user_agent
        )
        self.write_page("You are unsubscribed", "<p>You will not receive our marketing e-mails any more.</p>")

    def check_xsrf_cookie(self) -> None:
        """The signed token is the authorisation (a mail client's one-click POST carries no cookie)."""

    def _contact(self, data: dict) -> dict | None:
        rows = self.workspace.query("SELECT id, email, marketing_consent FROM contacts WHERE id = ?", [data.get("k")])
        if not rows:
            self.write_page(
                "Link not valid", "<p>This address is no longer on our lists. Nothing was changed.</p>", 404
            )
            return None
        return rows[0]


class Open(_Tracked):
    """The open pixel: a transparent GIF, the open recorded when the token is valid."""

    def get(self, token: str) -> None:
        data = self._token(tracking.OPEN, token)
        if data is None:
            return
        try:
            tracking.record_event(
                self.workspace,
                "open",
                campaign_id=data.get("c"),
                contact_id=data.get("k"),
                ref=data.get("r"),
                ip=self.client_ip,
                user_agent=self.user_agent,
            )
        except Exception:  # a pixel must always load; the failure is logged, not shown
            log.exception("could not record an open")
        self.set_header("Content-Type", "image/gif")
        self.finish(PIXEL)


class Click(_Tracked):
    """A tracked link: recorded, then redirected to that campaign's link at the token's position."""

    def get(self, token: str) -> None:
        data = self._token(tracking.CLICK, token)
        if data is None:
            return
        url = self.workspace.store.scalar(
            "SELECT url FROM campaign_links WHERE campaign_id = ? AND position = ?", [data.get("c"), data.get("l")]
        )
        if not url or not url.lower().startswith(("http://", "https://")):
            self.write_page("Link not valid", "<p>This link is not part of that e-mail. Nothing was recorded.</p>", 404)
            return
        tracking.record_event(
            self.workspace,
            "click",
            campaign_id=data.get("c"),
            contact_id=data.get("k"),
            url=url,
            ip=self.client_ip,
            user_agent=self.user_agent,
        )
        self.redirect(url, status=302)


class Link(_Tracked):
    """A signed link of mail without a campaign: recorded with its ref, redirected to the URL it signs."""

    def get(self, token: str) -> None:
        data = self._token(tracking.LINK, token)
        if data is None:
            return
        url = str(data.get("u") or "")
        if not url.lower().startswith(("http://", "https://")):
            self.write_page("Link not valid", "<p>This link does not lead anywhere. Nothing was recorded.</p>", 404)
            return
        tracking.record_event(
            self.workspace,
            "click",
            campaign_id=None,
            contact_id=data.get("k"),
            url=url,
            ref=data.get("r"),
            ip=self.client_ip,
            user_agent=self.user_agent,
        )
        self.redirect(url, status=302)


def _masked(email: str) -> str:
    """``ana.lopez@example.com`` → ``an…@example.com``: enough to recognise, not to harvest."""
    local, _, domain = email.partition("@")
    return f"{local[:2]}…@{domain}" if domain else "your address"


def tracking_routes() -> list[Route]:
    return [
        Route(f"/m/u/{TOKEN}", Unsubscribe),
        Route(f"/m/o/{TOKEN}\\.gif", Open),
        Route(f"/m/c/{TOKEN}", Click),
        Route(f"/m/l/{TOKEN}", Link),
    ]
