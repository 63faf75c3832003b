"""Who a served session acts as when there is no login: a team member, never an OS account.

``crm serve --user NAME`` (or $CRM_USER) names a member for every session; else each
browser picks one at its first visit ("Who are you?"), remembered in a cookie for that
browser. The OS account the server runs as ("root") is never acted as, even when
``crm init --demo`` run as root put it on the team: it is no person of the team, and
tasks would land on it. With a login, the logged-in
user decides (crm_workspace/web/auth.py) and none of this applies.
"""

from __future__ import annotations

from typing import Any

import panel as pn

from crm_workspace.data.permissions import team
from crm_workspace.web.shell import frame

#: the cookie a browser keeps its chosen member in (one year; cleared by "switch user")
USER_COOKIE = "crm_user"
_REMEMBER = (
    "document.cookie = '{cookie}=' + encodeURIComponent(username) + '; path=/; max-age=31536000; SameSite=Lax';"
    " window.location.reload()"
)
#: the badge's link that forgets this browser's choice and asks again
SWITCH_LINK = (
    "<a href='./' onclick=\"document.cookie='" + USER_COOKIE + "=; path=/; max-age=0'; window.location.reload();"
    ' return false;">switch user</a>'
)


def chosen_member(
    store: Any, configured: str | None, cookies: dict[str, str], *, fallback: str | None = None
) -> tuple[str | None, bool]:
    """``(member, picked)``: whom this browser acts as, and whether it picked them (so may switch).

    The configured user (``--user`` or $CRM_USER; None when neither is given) if on the team, else
    the member this browser's cookie names; ``(None, False)`` when a person must pick. The OS
    account the server runs as (``fallback``) is never taken for a member, even when it is on
    the team: ``crm init --demo`` run as root makes root the first admin (for the CLI), and
    ``make serve`` then greeted every browser as "root". A workspace without users acts as the
    configured user, else ``fallback``, as before.
    """
    members = {row["username"] for row in team(store)}
    if not members:
        return configured or fallback, False
    if configured in members:
        return configured, False
    remembered = cookies.get(USER_COOKIE, "")
    if remembered in members:
        return remembered, True
    return None, False


def _label(row: dict[str, Any]) -> str:
    name = row["display_name"] or row["username"]
    return f"{row['username']} — {name} ({row['role']})"


def who_are_you(store: Any) -> pn.Column:
    """The first-visit picker: the users table as a list; Continue remembers the choice in this browser."""
    members = team(store)
    choice = pn.widgets.Select(label="I am", options=[_label(row) for row in members], width=320)
    go = pn.widgets.Button(label="Continue", color="primary", width=120)
    # the label starts with the username; only the browser needs it (a cookie), then the app reloads
    go.js_on_click(
        args={"choice": choice},
        code="const username = choice.value.split(' — ')[0]; " + _REMEMBER.format(cookie=USER_COOKIE),
    )
    return pn.Column(
        pn.pane.Markdown(
            "## Who are you?\n\nThis workspace has no logins: pick yourself from the team, so your tasks, "
            "deals and changes are yours. This browser remembers the choice."
        ),
        choice,
        go,
        pn.pane.HTML(
            "<small>An admin can fix the user for everyone with <code>crm serve --user NAME</code>.</small>",
        ),
        width=420,
    )


def picker_template(store: Any) -> pn.template.BaseTemplate:
    """The picker in the app's own frame (no navigation yet: no one to act as)."""
    return frame(main=[who_are_you(store)])
