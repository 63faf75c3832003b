"""The survey links' landing pages: ``/s/csat/<token>`` and ``/s/nps/<token>`` (no login: the token is signed).

GET shows the page with the clicked score preselected and a comment box; only the POST
of that form records. Mail security scanners (Microsoft Defender Safe Links, Mimecast,
Proofpoint) open every link of a message to check it, so an answer recorded on GET would
be cast by a robot, for every choice in turn, the last one winning (RFC 8058 makes
one-click unsubscribe a POST for the same reason). A changed, expired or foreign token
gets a plain page and nothing is recorded.
"""

from __future__ import annotations

from crm_workspace.errors import CrmError
from crm_workspace.services.http import RateLimiter, RouteHandler, escape
from crm_workspace.services.signing import BadSignature, unsign

from . import rules

ANSWERS = RateLimiter(per_minute=20)
INVALID = "This survey link is not valid any more (it was changed, or it expired). Nothing was recorded."


class SurveyHandler(RouteHandler):
    kind = ""

    def _claims(self, token: str) -> dict | None:
        try:
            return unsign(self.workspace, self.kind, token)
        except BadSignature:
            self.write_page("Survey", f'<p class="error">{escape(INVALID)}</p>', status=400)
            return None

    def _score(self, text: str | None) -> int | None:
        high = 1 if self.kind == "csat" else 10
        return int(text) if text and text.isdigit() and 0 <= int(text) <= high else None

    def get(self, token: str) -> None:
        claims = self._claims(token)
        if claims is None:
            return
        self._form(token, self._score(self.get_argument("score", None)), claims)

    def post(self, token: str) -> None:
        if not self.check_rate(ANSWERS):
            return
        claims = self._claims(token)
        if claims is None:
            return
        score = self._score(self.get_body_argument("score", None))
        if score is None:
            self._form(token, None, claims, error="Choose a rating first.")
            return
        comment = self.get_body_argument("comment", "")
        try:
            self.save(claims, score, comment)
        except CrmError as error:
            self.write_page("Survey", f'<p class="error">{escape(str(error))}</p>', status=400)
            return
        self.write_page(
            "Thank you!",
            "<p>Thank you for your feedback. You can change your answer with the same link for"
            f" {rules.CHANGE_DAYS} days.</p>",
        )

    def _form(self, token: str, score: int | None, claims: dict, error: str = "") -> None:
        choices = "".join(
            f'<label><input type="radio" name="score" value="{value}"{" checked" if value == score else ""}>'
            f" {escape(label)}</label>"
            for value, label in self.choices()
        )
        self.write_page(
            "Your feedback",
            (f'<p class="error">{escape(error)}</p>' if error else "")
            + f'<form method="post" action="/s/{self.kind}/{escape(token)}"><p>{escape(self.question(claims))}</p>'
            f'{choices}<label for="comment">Anything you would like to add? (optional)</label>'
            '<textarea id="comment" name="comment" rows="4" maxlength="2000"></textarea>'
            '<button type="submit">Send my answer</button></form>',
        )


class CsatHandler(SurveyHandler):
    kind = "csat"

    def choices(self):
        return [(1, "Good, I'm satisfied"), (0, "Bad, I'm unsatisfied")]

    def question(self, claims):
        return f"How would you rate the support you received on request #{int(claims['t'])}?"

    def save(self, claims, score, comment):
        rules.ticket_of(self.workspace, int(claims["t"]))
        rules.record(self.workspace, "csat", int(claims["c"]), score, comment, ticket_id=int(claims["t"]))


class NpsHandler(SurveyHandler):
    kind = "nps"

    def choices(self):
        return [
            (n, str(n) + (" – not at all likely" if n == 0 else " – extremely likely" if n == 10 else ""))
            for n in range(11)
        ]

    def question(self, claims):
        return "How likely are you to recommend us to a friend or colleague?"

    def save(self, claims, score, comment):
        rules.record(self.workspace, "nps", int(claims["c"]), score, comment, period=str(claims["p"]))

    def get(self, token: str) -> None:
        if self.get_argument("stop", "") != "1":
            super().get(token)
            return
        if self._claims(token) is None:
            return
        self.write_page(
            "No more surveys",
            f'<form method="post" action="/s/nps/{escape(token)}"><input type="hidden" name="stop" value="1">'
            "<p>Send me no more of these “how likely are you to recommend us” surveys.</p>"
            '<button type="submit">Stop these surveys</button></form>',
        )

    def post(self, token: str) -> None:
        if self.get_body_argument("stop", "") != "1":
            super().post(token)
            return
        if not self.check_rate(ANSWERS):
            return
        claims = self._claims(token)
        if claims is None:
            return
        rules.opt_out(self.workspace, int(claims["c"]))
        self.write_page("Done", "<p>You will get no more of these surveys. Thank you for letting us know.</p>")
