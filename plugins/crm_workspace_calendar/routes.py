"""``/ical/<token>.ics``: a user's calendar feed, for calendar apps to subscribe to."""

from __future__ import annotations

import hashlib
from email.utils import format_datetime

from crm_workspace.services.http import RateLimiter, RouteHandler

from .feeds import build_feed, feed_user

#: Calendar apps poll every few minutes at most; anything faster is someone guessing tokens.
per_address = RateLimiter(120)


class FeedHandler(RouteHandler):
    """The feed of the user a live token belongs to; any other token is a bare 404."""

    def get(self, token: str) -> None:
        if not self.check_rate(per_address):
            return
        user = feed_user(self.workspace, token)
        if user is None:
            self.set_status(404)
            self.write_page("Not found", "<p>Not found.</p>", status=404)
            return
        body, changed = build_feed(self.workspace, user)
        self.set_header("Content-Type", "text/calendar; charset=utf-8")
        self.set_header("Content-Disposition", 'inline; filename="crm.ics"')
        self.set_header("Cache-Control", "private, no-cache")  # revalidate with ETag: 304 when nothing changed
        self.set_header("Etag", '"' + hashlib.sha256(body).hexdigest()[:32] + '"')
        if changed is not None:
            self.set_header("Last-Modified", format_datetime(changed, usegmt=True))
        if self.check_etag_header():
            self.set_status(304)
            return
        self.write(body)

    def head(self, token: str) -> None:
        self.get(token)
