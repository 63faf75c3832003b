"""The public sign-up form ``/f/<slug>`` and its confirmation page ``/f/<slug>/confirm/<token>``.

Public by design (no login): a honeypot field catches form-filling bots (they are told
"check your inbox" and nothing is kept), a per-address rate limit stops floods (429),
the confirmation e-mail is queued in the outbox and sent off the request's thread.
Confirming takes a button press (POST): a mail scanner fetching the link confirms nothing.
"""

from __future__ import annotations

import contextlib
from typing import Any

import tornado.ioloop

from crm_workspace import CrmError, NotFound, Route

from . import forms
from .core import BadSignature, RateLimiter, RouteHandler, escape
from .tracking import TOKEN

#: Submissions per minute from one address (a person needs one; a flood is refused with 429).
SUBMISSIONS_PER_MINUTE = 5
HONEYPOT = "website"


def _form_html(form: dict[str, Any], values: dict[str, str] | None = None, error: str = "") -> str:
    values = values or {}
    field = lambda name: escape(values.get(name, ""))  # noqa: E731
    return (
        (f"<p>{escape(form['intro'])}</p>" if form.get("intro") else "")
        + (f'<p class="error">{escape(error)}</p>' if error else "")
        + '<form method="post">'
        f'<label for="email">E-mail</label><input id="email" name="email" type="email" required value="{field("email")}">'
        f'<label for="first_name">First name</label><input id="first_name" name="first_name" value="{field("first_name")}">'
        f'<label for="last_name">Last name</label><input id="last_name" name="last_name" value="{field("last_name")}">'
        f'<div hidden aria-hidden="true"><label for="{HONEYPOT}">Leave this empty</label>'
        f'<input id="{HONEYPOT}" name="{HONEYPOT}" tabindex="-1" autocomplete="off"></div>'
        f'<label><input type="checkbox" name="consent" value="1" required> {escape(form.get("consent_text") or forms.DEFAULT_CONSENT)}</label>'
        '<button type="submit">Sign up</button></form>'
        '<p class="muted">We send you an e-mail to confirm your address first.</p>'
    )


class SignupForm(RouteHandler):
    max_body_bytes = 20_000

    def check_xsrf_cookie(self) -> None:
        """A public form: the honeypot and the rate limit guard it, the e-mail confirmation proves the address."""

    def _form(self, slug: str) -> dict[str, Any] | None:
        try:
            form = forms.get_form(self.workspace, slug)
        except NotFound:
            self.write_page("Not found", "<p>There is no such form.</p>", status=404)
            return None
        if form["status"] != "open":
            self.write_page(form["title"], "<p>This form is closed.</p>", status=410)
            return None
        return form

    def get(self, slug: str) -> None:
        form = self._form(slug)
        if form is not None:
            self.write_page(form["title"], _form_html(form))

    async def post(self, slug: str) -> None:
        form = self._form(slug)
        if form is None or not self.check_rate(self.route_kwargs["limiter"]):
            return
        values = {k: self.get_body_argument(k, "") for k in ("email", "first_name", "last_name")}
        done = f"<p>{escape('Thank you! Please check your inbox: we sent you a link to confirm your address.')}</p>"
        if self.get_body_argument(HONEYPOT, ""):
            self.write_page(form["title"], done)  # a bot: told the same, nothing kept
            return
        if not self.get_body_argument("consent", ""):
            self.write_page(form["title"], _form_html(form, values, "Please tick the box to agree."), status=400)
            return
        try:
            forms.submit(
                self.workspace, slug, ip=self.client_ip, user_agent=self.request.headers.get("User-Agent", ""), **values
            )
        except CrmError as error:
            self.write_page(form["title"], _form_html(form, values, str(error)), status=400)
            return
        self.write_page(form["title"], done)
        loop = tornado.ioloop.IOLoop.current()
        with contextlib.suppress(CrmError):  # the server is down: the confirmation stays queued for the next tick
            await loop.run_in_executor(None, forms.send_confirmations, self.workspace)


class ConfirmSignup(RouteHandler):
    max_body_bytes = 10_000

    def check_xsrf_cookie(self) -> None:
        """The signed token is the authorisation."""

    def _pending(self, token: str):
        try:
            return forms.pending(self.workspace, token)
        except (BadSignature, NotFound) as error:
            self.write_page("Link not valid", f"<p>{escape(str(error))}.</p><p>Nothing was changed.</p>", status=400)
            return None

    def get(self, slug: str, token: str) -> None:
        found = self._pending(token)
        if found is None:
            return
        form, submission = found
        if submission["confirmed_at"]:
            self.write_page(form["title"], "<p>Your address is confirmed. Thank you!</p>")
            return
        self.write_page(
            form["title"],
            f"<p>Confirm <strong>{escape(submission['email'])}</strong> to receive our e-mails.</p>"
            f'<form method="post"><button type="submit">Confirm my subscription</button></form>',
        )

    def post(self, slug: str, token: str) -> None:
        found = self._pending(token)
        if found is None:
            return
        form, _submission = found
        forms.confirm(self.workspace, token, ip=self.client_ip, user_agent=self.request.headers.get("User-Agent", ""))
        thanks = form.get("thank_you") or "Your address is confirmed. Thank you!"
        self.write_page(form["title"], f"<p>{escape(thanks)}</p>")


def form_routes() -> list[Route]:
    """The form and its confirmation; each mounting counts submissions per address with its own limiter."""
    return [
        Route(r"/f/([a-z0-9-]{1,40})", SignupForm, {"limiter": RateLimiter(SUBMISSIONS_PER_MINUTE)}),
        Route(rf"/f/([a-z0-9-]{{1,40}})/confirm/{TOKEN}", ConfirmSignup),
    ]
