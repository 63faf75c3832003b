"""A served browser session: its user, its guard, and the app it is shown.

``crm serve`` (crm_workspace/web/server.py) calls ``session_app`` once per browser
session. The session acts as its logged-in user, else the member this browser
picked (crm_workspace/web/identity.py), and a ``SessionGuard`` re-checks that user
once a second (default deny, crm_workspace/data/permissions.py).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import panel as pn
from panel.io.callbacks import PeriodicCallback

from crm_workspace.data import permissions
from crm_workspace.errors import CrmError
from crm_workspace.web import auth, identity
from crm_workspace.web.app import POLL_MS, App, access_ended, app_pages
from crm_workspace.web.router import parse_query, session_query
from crm_workspace.web.shell import frame
from crm_workspace.workspace import Workspace

if TYPE_CHECKING:
    from bokeh.document import Document

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServeConfig:
    """What the server tells the app it serves: which workspace, acting as whom, behind a login or not.

    ``crm serve`` builds one from its options; ``panel serve dashboards/...`` files
    use ``from_environment`` ($CRM_DB, the user-facing default, else ./crm.db).
    """

    path: str = "crm.db"
    user: str | None = None
    login: bool = False

    @classmethod
    def from_environment(cls) -> ServeConfig:
        return cls(path=os.environ.get("CRM_DB") or "crm.db", user=os.environ.get("CRM_USER") or None)


def _notify_error(error: Exception) -> None:
    """Panel's exception handler: a notification, never a traceback in the browser."""
    message = str(error) if isinstance(error, CrmError) else f"Unexpected error: {type(error).__name__}: {error}"
    if not isinstance(error, CrmError):
        log.error("callback failed", exc_info=error)
    if pn.state.notifications is not None:
        pn.state.notifications.error(message, duration=8000)


def base_workspace(path: str | None = None, *, user: str | None = None) -> Workspace:
    """The process-wide workspace the served sessions share (opened once per file and user)."""
    key = ("crm_workspace", path or ServeConfig.from_environment().path, user)
    if key not in pn.state.cache:
        pn.state.cache[key] = Workspace.open(key[1], user=user)
    return pn.state.cache[key]


class SessionGuard:
    """Re-checks a served session's user once a second (default deny, crm_workspace/data/permissions.py).

    The session loses access at once, for good, when its user is removed or disabled,
    when its login session is revoked (logout) or expires, or when a login becomes
    required and the session has none; a change of role rebuilds what it may see.
    ``state`` is the role (``"setup"`` with no users yet), or None: no access.
    """

    def __init__(self, workspace: Workspace, *, token: str | None, logged_in: bool):
        self.workspace = workspace
        self.token = token
        self.logged_in = logged_in
        self.listeners: list[Callable[[str | None], None]] = []
        self.state = self.current()
        self._callback: PeriodicCallback | None = None
        #: whether the browser has reported the page drawn (see ``page_drawn``)
        self.drawn = False

    def current(self) -> str | None:
        ws = self.workspace
        if self.logged_in:
            if not auth.session_active(ws.path, self.token, ws.user):
                return None
        elif auth.login_required(ws.path):
            return None
        found = permissions.permissions(ws.store)
        return (found.role or "setup") if found.has_access else None

    def start(self) -> None:
        """Start the once-a-second check (``open_session`` does, as the session opens)."""
        # background: not a user's action, so not counted in Panel's process-wide "busy" state
        self._callback = PeriodicCallback(callback=self.tick, period=POLL_MS, background=True)
        self._callback.start()

    def page_drawn(self) -> None:
        """The browser has drawn the page (``pn.state.onload``): from now on data changes refresh it.

        Not before: Panel counts a session as connected only when the browser reports the
        page drawn (``document_ready``; here also at its first message,
        ``connected_on_first_input``), and until then it drops the messages of any
        change to the page (``hold()``, panel/io/document.py ``_drain_unconnected_events``)
        on the premise that the browser has not fetched the document yet. But the browser
        fetched it first, so a refresh in between (a write seen by ``workspace.poll``)
        changed the page on the server only: later messages then named components the
        browser never got (Bokeh's "reference pNNNN isn't known") and those parts of the
        page stayed as they were, e.g. a section built after the page was shown never
        appeared. A write in that moment is not lost: the first check after the page is
        drawn sees the database's new version and refreshes the page. Access is checked
        from the start all the same (a client that never reports the page drawn keeps no
        revoked rights), and a loss before this moment is shown now.
        """
        self.drawn = True
        if self.state is None:
            for listener in self.listeners:
                listener(None)

    def tick(self) -> None:
        """Once a second: apply any change of access, and refresh views if the data changed."""
        if self.state is None:
            return
        if self.drawn:
            self.workspace.poll()
        state = self.current()
        if state == self.state:
            return
        self.state = state
        if state is None and self._callback is not None:
            self._callback.stop()
        for listener in self.listeners:
            listener(state)


def open_session(
    path: str | None = None, *, user: str | None = None, acting: str | None = None
) -> tuple[Workspace, SessionGuard]:
    """This browser session's Workspace and its guard.

    The session acts as its logged-in user only with a live server-side session
    (crm_workspace/web/auth.py); otherwise as ``acting`` (the member this browser
    picked), else the server's user.
    """
    base = base_workspace(path, user=user)
    token = auth.session_token(pn.state.cookies or {}) if pn.state.curdoc is not None else None
    logged_in = bool(pn.state.user and token and auth.session_user(base.path, token) == pn.state.user)
    ws = base.as_user(pn.state.user if logged_in else (acting or base.user))
    guard = SessionGuard(ws, token=token, logged_in=logged_in)
    if pn.state.curdoc is not None and guard.state is not None:
        ws.poll()
        guard.start()
        pn.state.onload(guard.page_drawn)  # no refresh while the browser is still drawing the page
    return ws, guard


def session_workspace(path: str | None = None, *, user: str | None = None) -> Workspace:
    """This browser session's Workspace, acting as the logged-in (or default) user."""
    return open_session(path, user=user)[0]


def configure(workspace: Workspace) -> None:
    """Load the extensions every page needs and route callback errors to notifications; import the pages' views."""
    # Tabulator always: a plugin's page may show one without asking (the README's example does);
    # measured, its scripts add nothing to a page load that the run-to-run noise does not hide
    extensions = sorted({ext for page in app_pages(workspace) for ext in page.extensions} | {"tabulator"})
    pn.extension(*extensions, notifications=True, exception_handler=_notify_error)
    preload_views(workspace)


def preload_views(workspace: Workspace) -> None:
    """Import each plugin's ``views`` before serving: no page pays for its imports on its first visit.

    It also keeps custom components working: Panel defines a ``JSComponent``'s browser model
    when its class is made, and one made inside a live session (a section built after the page
    was shown, crm_workspace/web/deferred.py) was missing from later sessions' pages.
    """
    packages = {(getattr(page.view, "__module__", "") or "").split(".")[0] for page in app_pages(workspace)}
    for package in sorted(packages - {"", "crm_workspace"}):
        try:
            if importlib.util.find_spec(f"{package}.views") is not None:
                importlib.import_module(f"{package}.views")
        except Exception:  # the page itself reports its plugin's problem when it is opened
            log.warning("could not import %s.views", package, exc_info=True)


def connected_on_first_input(document: Document) -> None:
    """Count the session as connected from the browser's first message, not only once it reports the page drawn.

    Panel treats a session as unconnected until the browser's ``document_ready`` and
    drops the server's changes made meanwhile, on the premise that the browser will
    fetch the whole document later. But the browser fetched it before it could send
    anything: a file uploaded or a button pressed in that moment (a page drawn on a
    slow phone, or by a test) was handled on the server and its result never shown,
    not even after ``document_ready``. Panel's own ``onload`` callbacks (the ready mark,
    deferred sections) still wait for ``document_ready``.
    """
    from panel.io import document as panel_document

    connected = getattr(pn.state, "_connected", None)  # Panel's private state (1.9): without it, Panel's own way
    dispatch = getattr(panel_document, "_dispatch_unconnected_events", None)
    if connected is None or dispatch is None:
        return

    def mark() -> None:
        if not connected.get(document):
            connected[document] = True
            dispatch(document)

    def changed(event) -> None:  # a property the browser set: typed text, a file, a choice
        if getattr(event, "setter", None) is not None:  # None: the server's own change
            document.remove_on_change(changed)
            mark()

    document.on_change(changed)
    document.on_message("bokeh_event", lambda _event: mark())  # a click is an event, not a property change


def session_app(config: ServeConfig | None = None) -> pn.viewable.Viewable:
    """Build the app for one served session (the target of ``crm serve``)."""
    config = config or ServeConfig.from_environment()
    if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
        connected_on_first_input(pn.state.curdoc)
    base = base_workspace(config.path, user=config.user)
    acting, picked = None, False
    if not pn.state.user:  # no login: act as a team member (--user, else the one this browser picked)
        acting, picked = identity.chosen_member(base.store, config.user, pn.state.cookies or {}, fallback=base.user)
        if acting is None:
            return identity.picker_template(base.store)
    ws, guard = open_session(config.path, user=config.user, acting=acting)
    if guard.state is None:
        return frame(main=[access_ended()])
    # build the page the address names first (a reload, a shared link), not the home page and then that page
    page, args = parse_query(session_query(pn.state.session_args))
    ws.param.update(page=page, page_args=args)
    app = App(workspace=ws, login=config.login, switch_user=picked)
    guard.listeners.append(app.apply_access)
    return app.template()
