"""``/ical/<token>.ics``: a user's calendar feed, for calendar apps to subscribe to."""

from __future__ import annotations

from email.utils import format_datetime

import tornado.ioloop

from crm_workspace.services.http import RateLimiter, RouteHandler

from .feeds import cached_feed, feed_user

#: Calendar apps poll every few minutes at most; anything faster is someone guessing tokens.
per_address = RateLimiter(120)


class FeedHandler(RouteHandler):
    """The feed of the user a live token belongs to; any other token is a bare 404.

    The feed is built on a worker thread (a large one takes a second or two), so the
    server's event loop keeps serving the app meanwhile.
    """

    async def get(self, token: str) -> None:
        if not self.check_rate(per_address):
            return
        loop = tornado.ioloop.IOLoop.current()
        user = await loop.run_in_executor(None, feed_user, self.workspace, token)
        if user is None:
            self.write_page("Not found", "<p>Not found.</p>", status=404)
            return
        body, etag, changed = await loop.run_in_executor(None, cached_feed, self.workspace, user)
        self.set_header("Content-Type", "text/calendar; charset=utf-8")
        self.set_header("Content-Disposition", 'inline; filename="crm.ics"')
        self.set_header("Cache-Control", "private, no-cache")  # revalidate with the ETag: 304 when unchanged
        self.set_header("Etag", etag)
        if changed is not None:
            self.set_header("Last-Modified", format_datetime(changed, usegmt=True))
        if self.check_etag_header():
            self.set_status(304)
            return
        self.write(body)

    async def head(self, token: str) -> None:
        await self.get(token)
