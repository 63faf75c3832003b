"""The served Panel app: one template, navigation built from the plugins' pages.

Inline in a notebook the app is a plain layout; served, it is a template with
the navigation in the sidebar. Each browser session gets its own Workspace
(``as_user``) and polls the database every second, so a change from another
session, process or notebook shows up without a reload.
"""

from __future__ import annotations

import html
import logging
import time
from typing import Any
from urllib.parse import quote

import panel as pn
import param

from crm_workspace.data import permissions
from crm_workspace.data.shared import UntilChanged
from crm_workspace.errors import NotFound
from crm_workspace.types import Page
from crm_workspace.web import identity
from crm_workspace.web.audit_view import audit_page
from crm_workspace.web.icons import is_icon_name, svg
from crm_workspace.web.list_table import list_module_loader
from crm_workspace.web.router import page_query, parse_query
from crm_workspace.web.shell import FrameScript, OfflineFast, ReadyMark, ShellTemplate, follow_page
from crm_workspace.workspace import Workspace

log = logging.getLogger(__name__)

#: defined in crm_workspace/web/shell.py, imported from here since they were first defined here
__all__ = ["OfflineFast", "ReadyMark"]

POLL_MS = 1000
HOME = Page("home", "Home", view=lambda ws: Home(workspace=ws), icon="home", order=0, plugin="core")
#: The app's own admin page (crm_workspace/web/audit_view.py), beside the plugins' pages.
AUDIT = Page("audit", "Audit trail", view=audit_page, icon="shield", order=900, plugin="core")
CSS = """
.crm-kpis {display: flex; flex-wrap: wrap; gap: 10px;}
.crm-kpi {border: 1px solid #e3e6ea; border-radius: 8px; padding: 12px 16px; min-width: 190px; background: white;}
.crm-kpi .label {color: #5f6b7a; font-size: 13px;}
.crm-kpi .value {font-size: 28px; font-weight: 600; color: #1f2d3d;}
.crm-kpi details {font-size: 11px; color: #5f6b7a;}
.crm-kpi pre {white-space: pre-wrap; max-width: 320px;}
/* a phone: two cards a row, filling the width */
@media (max-width: 760px) {
  .crm-kpi {flex: 1 1 calc(50% - 10px); min-width: 0; padding: 10px 12px; box-sizing: border-box;}
  .crm-kpi .value {font-size: 22px;}
}
"""


def nav_label(page: Page) -> str:
    """A navigation entry's text: the title, after the page's emoji when a plugin gave one instead of an icon name."""
    return page.title if is_icon_name(page.icon) else f"{page.icon} {page.title}"


def nav_icons_css(pages: list[Page]) -> str:
    """Draws each page's icon before its label in the navigation's button group (whose buttons take text only).

    The icon is a mask filled with the text colour, so it follows the active and hover colours.
    """
    rules = [".bk-btn-group .bk-btn {justify-content: flex-start; text-align: left;}"]
    for position, page in enumerate(pages, start=1):
        if is_icon_name(page.icon):
            image = f'url("data:image/svg+xml,{quote(svg(page.icon))}")'
            rules.append(
                f".bk-btn-group .bk-btn:nth-child({position})::before {{content: ''; display: inline-block;"
                f" width: 18px; height: 18px; margin-right: 8px; vertical-align: -4px; background-color: currentColor;"
                f" -webkit-mask: {image} center / contain no-repeat; mask: {image} center / contain no-repeat;}}"
            )
    return "\n".join(rules)


def error_card(title: str, error: BaseException | str) -> pn.pane.Alert:
    """A clear error for a person: what failed and why, no traceback."""
    text = str(error)
    return pn.pane.Alert(
        f"**{html.escape(title, quote=False)}**\n\n{html.escape(text, quote=False)}",
        alert_type="danger",
        sizing_mode="stretch_width",
    )


def not_found_page(workspace: Workspace, name: str) -> pn.Column:
    """A stale bookmark or a disabled plugin's page: said plainly, with the way home; the menu stays."""
    home = pn.widgets.Button(label="Go to the home page", color="primary", width=180)
    home.on_click(lambda _event: workspace.open_page("home"))
    return pn.Column(
        pn.pane.Markdown(
            f"## Page not found\n\nThere is no page named **{html.escape(name)}** here: the link may be old, "
            "or the module that served it is disabled. Pick a page from the menu.",
            css_classes=["crm-not-found"],
        ),
        home,
        sizing_mode="stretch_width",
    )


def render_page(workspace: Workspace, page: Page) -> Any:
    """Call a page's view; a plugin that raises gets an error card, not a broken app."""
    try:
        return pn.panel(page.view(workspace))
    except Exception as error:
        log.exception("page %s of plugin %s failed", page.name, page.plugin)
        return error_card(
            f"The {page.title} page (plugin '{page.plugin}') failed to load", f"{type(error).__name__}: {error}"
        )


def shell_pages(workspace: Workspace) -> list[Page]:
    """The app's own pages, not a plugin's: the audit trail, for admins only."""
    return [AUDIT] if permissions.is_admin(workspace.store) else []


def app_pages(workspace: Workspace) -> list[Page]:
    """Every page the app lists (home aside): the plugins' and its own, in navigation order.

    A plugin's page of the same name as one of the app's keeps its place.
    """
    pages = {page.name: page for page in workspace.pages()}
    for page in shell_pages(workspace):
        pages.setdefault(page.name, page)
    return sorted(pages.values(), key=lambda p: (p.order, p.name))


def dashboard(workspace: Workspace, name: str) -> Any:
    """The Panel object of one page (``Workspace.dashboard``); displays inline in Jupyter."""
    pages = app_pages(workspace)
    for page in pages:
        if page.name == name:
            return render_page(workspace, page)
    names = ", ".join(p.name for p in pages)
    raise NotFound(f"no dashboard named '{name}' (available: {names})")


def app(workspace: Workspace) -> App:
    """The whole app over ``workspace`` (``Workspace.app``): a layout inline, a template when served."""
    return App(workspace=workspace)


def kpi_card(label: str, value: str, sql: str = "", help: str = "") -> str:
    """One KPI card's HTML: the label, the value, the query behind it on request."""
    query = f"<details><summary>show query</summary><pre>{html.escape(sql)}</pre></details>" if sql else ""
    title = f' title="{html.escape(help)}"' if help else ""
    return (
        f'<div class="crm-kpi"{title}><div class="label">{html.escape(label)}</div>'
        f'<div class="value">{html.escape(value)}</div>{query}</div>'
    )


def kpi_cards(cards: list[str]) -> pn.pane.HTML:
    """Every card in one pane (one component, not one per card: the home page's build and drawing time)."""
    return pn.pane.HTML(
        f'<div class="crm-kpis">{"".join(cards)}</div>', stylesheets=[CSS], sizing_mode="stretch_width", margin=5
    )


#: The home page's KPIs per (workspace file, user), shared by sessions (crm_workspace/data/shared.py).
METRICS = UntilChanged()
#: KPIs are computed again at least this often (those of "this month", "90 days" follow the clock).
METRICS_MAX_AGE_S = 60


def shared_metrics(workspace: Workspace) -> list:
    """``workspace.metrics()``, computed once for every session of the user until the data changes.

    Each KPI is an aggregate over a whole table: at 100k contacts the home page's ~35
    queries took 0.6 s of every visit. Sessions of one server share their results until
    any connection commits (``store.data_version()``) or the minute turns.
    """
    minute = int(time.time() // METRICS_MAX_AGE_S)
    return METRICS.get(workspace.store, (workspace.path, workspace.user), workspace.metrics, stamp=minute)


class Home(pn.viewable.Viewer):
    """The home page: KPI cards from every plugin's ``crm_metrics``, and plugin problems."""

    workspace = param.ClassSelector(class_=Workspace)

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.pane.Markdown(f"## Welcome, {html.escape(self.workspace.user)}"),
            pn.bind(self._cards, self.workspace.param.revision),
            pn.bind(self._problems, self.workspace.param.revision),
            self._views(),
            sizing_mode="stretch_width",
        )

    def _views(self) -> pn.pane.HTML:
        """For analysts: every number here as a DataFrame, ``ws.df(name)`` in a notebook."""
        views = self.workspace.views()
        items = "".join(
            f"<li><code>ws.df(&quot;{html.escape(name)}&quot;)</code>{' — ' if description else ''}"
            f"{html.escape(description)}</li>"
            for name, description in zip(views["name"], views["description"], strict=True)
        )
        return pn.pane.HTML(
            "<details class='crm-views'><summary>Reproduce in a notebook: data views</summary>"
            '<p><code>ws = Workspace.open(&quot;crm.db&quot;)</code>, then any KPI\'s query ("show query") with '
            f"<code>ws.df(sql)</code>, or a module's view:</p><ul>{items}</ul></details>",
            sizing_mode="stretch_width",
        )

    def _cards(self, _revision: int) -> pn.viewable.Viewable:
        metrics = shared_metrics(self.workspace)
        if not metrics:
            return pn.pane.Markdown("No module contributes metrics yet.")
        return kpi_cards([kpi_card(m.label, m.formatted(), m.sql, m.help) for m in metrics])

    def _problems(self, _revision: int) -> pn.viewable.Viewable:
        errors = self.workspace.plugin_errors()
        return pn.Column(*[error_card(f"Plugin '{e.plugin}' has a problem", e) for e in errors])


class App(pn.viewable.Viewer):
    """The whole workspace: navigation from the plugins' pages, one page at a time."""

    workspace = param.ClassSelector(class_=Workspace)
    login = param.Boolean(default=False, doc="Served with the login installed: a logged-in badge offers to log out.")
    switch_user = param.Boolean(default=False, doc="The user was picked in this browser: the badge offers to switch.")

    def __init__(self, **params: Any):
        super().__init__(**params)
        ws = self.workspace
        self._pages = {page.name: page for page in [HOME, *app_pages(ws)]}
        self._rendered: dict[str, Any] = {}
        self.nav = pn.widgets.RadioButtonGroup(
            options={nav_label(p): name for name, p in self._pages.items()},
            value=self._nav_entry(ws.page),
            orientation="vertical",
            color="light",
            variant="outline",
            sizing_mode="stretch_width",
            label="Navigation",
            stylesheets=[nav_icons_css(list(self._pages.values()))],
        )
        self.nav.value = self._nav_entry(ws.page)  # the widget picks its first entry for None when made
        self.nav.param.watch(self._navigate, "value")
        self.main = pn.Column(sizing_mode="stretch_width")
        document = pn.state.curdoc
        if document is not None and document.session_context is not None and not pn.state.loaded:
            document.add_next_tick_callback(self._fill)  # served: after the server has answered the address
        else:
            self._fill()
        #: The address bar (router.js), in step with ``workspace.page``/``page_args``, and the page's ready
        #: mark and phone menu: the frame's browser side, one component (crm_workspace/web/shell.py); drawn when served.
        self.router = FrameScript(query=page_query(ws.page, ws.page_args), width=0, height=0, margin=0)
        self.router.param.watch(self._follow_address, "query")
        ws.param.watch(self._show, "page")
        ws.param.watch(self._update_address, ["page", "page_args"])

    def _fill(self) -> None:
        """Build the page the address names into the frame.

        Served, this runs in the server's next turn after it has answered the page's
        address with the frame alone, while the browser compiles the scripts from its cache
        (~0.6 s, which had waited for the whole build; on a first visit it also fetches them
        from this server, after the build): the two run side by side. The
        browser fetches the document once the scripts are in (Bokeh's PULL-DOC, queued
        behind this turn), so the page comes with it, drawn at once as before.
        """
        self.main.objects = [self._render(self.workspace.page)]  # a failing view: render_page's error card

    def _nav_entry(self, name: str) -> str | None:
        """The menu entry to highlight: the page's own, none for a page that does not exist."""
        return name if name in self._pages else None

    def apply_access(self, state: str | None) -> None:
        """The session's user lost access (nothing is shown from now on) or changed role (pages rebuilt)."""
        ws = self.workspace
        self._rendered = {}
        if state is None:
            self._pages = {}
            self.nav.visible = False
            self.main.objects = [access_ended()]
            return
        self._pages = {page.name: page for page in [HOME, *app_pages(ws)]}
        self.nav.options = {nav_label(p): name for name, p in self._pages.items()}
        if ws.page not in self._pages:
            ws.page = "home"
        self.nav.value = ws.page
        self.main.objects = [self._render(ws.page)]

    def _render(self, name: str) -> Any:
        if name not in self._rendered:
            page = self._pages.get(name)
            if page is None:
                return not_found_page(self.workspace, name)
            self._rendered[name] = render_page(self.workspace, page)
        return self._rendered[name]

    def _navigate(self, event: param.parameterized.Event) -> None:
        """A click in the navigation opens the module's start page (not the last record shown)."""
        if event.new is not None and event.new != self.workspace.page:
            self.workspace.param.update(page=event.new, page_args={})

    def _show(self, event: param.parameterized.Event) -> None:
        self.nav.value = self._nav_entry(event.new)
        self.main.objects = [self._render(event.new)]

    def _update_address(self, *_events: param.parameterized.Event) -> None:
        """A page or record opened: the address follows, as a new history entry."""
        self.router.query = page_query(self.workspace.page, self.workspace.page_args)

    def _follow_address(self, event: param.parameterized.Event) -> None:
        """Back or Forward in the browser: show the page the address names."""
        page, args = parse_query(event.new)
        if (page, args) != (self.workspace.page, self.workspace.page_args):
            self.workspace.param.update(page=page, page_args=args)

    def user_badge(self) -> pn.pane.HTML:
        logout = " · <a href='./logout'>log out</a>" if self.login and pn.state.user else ""
        switch = f" · {identity.SWITCH_LINK}" if self.switch_user else ""
        return pn.pane.HTML(
            f"<span title='acting user'>{svg('user', 16)} {html.escape(self.workspace.user)}</span>{logout}{switch}"
        )

    def __panel__(self) -> pn.viewable.Viewable:
        if pn.state.served:
            return self.template()
        return pn.Row(pn.Column(self.user_badge(), self.nav, width=200), self.main, sizing_mode="stretch_width")

    def template(self) -> pn.template.BaseTemplate:
        # Panel's busy spinner is process-wide: it spins in every session when any one
        # is working, and updating all of them on every callback was most of the
        # server's time with 20 sessions open (ShellTemplate has none). Components show their own loading state.
        follow_page(self.router, self.workspace)
        return ShellTemplate(
            title="crm-workspace",
            sidebar=[self.user_badge(), self.nav, self.router, list_module_loader()],
            main=[self.main],
        )


def access_ended() -> pn.pane.Alert:
    """What a session without rights shows instead of any data."""
    return error_card(
        "No access",
        "This session has no rights: the user was removed or disabled, logged out, or a login is now required. "
        "Reload the page to log in.",
    )
