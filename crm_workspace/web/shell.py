"""The app's frame: a light template (header, menu, page) and the Fast design without its scripts.

Panel's ``FastListTemplate`` loaded fast-components.js (900 kB) twice and built its frame from
FAST web components on every page load: measured in Chromium beside an empty Panel page,
the frame alone cost 0.5–0.8 s of each page's time to ready (benchmarks/bench_pages.py).
``ShellTemplate`` is the same frame in plain HTML and CSS (static/shell.html, static/frame.css),
with the ids Panel's templates use (``#header``, ``#sidebar-button``, ``#sidebar``, ``#main``,
``openNav``/``closeNav``). ``OfflineFast`` keeps the Fast look of every component: its CSS,
with the design tokens that fast-components.js computes in the browser shipped as static
values (static/fast_tokens.css, read once from a page that ran the script).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import panel as pn
import param
from panel.custom import JSComponent
from panel.io.document import create_doc_if_none_exists
from panel.template.base import BasicTemplate
from panel.theme import Design, Fast

from crm_workspace.web.responsive import FIT_CSS_PATH, ShellMenu, card_labels_css, shell_css
from crm_workspace.web.router import Router

STATIC = Path(__file__).with_name("static")
#: The system's own interface fonts: nothing to download, the same text on and off line.
SYSTEM_FONT = '-apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, Arial, "Liberation Sans", Helvetica, sans-serif'
#: The header's colour, also the design's accent (static/fast_tokens.css holds the accent's shades).
HEADER = "#1f4e79"


class OfflineFast(Fast):
    """Panel's Fast design without its web font (Open Sans from the internet: offline the page waits for it)
    and without fast-components.js: its design tokens are static CSS (static/fast_tokens.css)."""

    #: Tables share out their width instead of measuring every cell ("fit_data_table", Panel's default):
    #: half of the Contacts page's time in the browser was Tabulator measuring. A table that sets
    #: ``layout=`` keeps its own; columns stay resizable, long text ends in an ellipsis.
    modifiers = {  # noqa: RUF012 - Panel's class attribute
        **Fast.modifiers,
        pn.widgets.Tabulator: {**Fast.modifiers[pn.widgets.Tabulator], "layout": "fit_columns"},
        # phones and tablets: every component fits the screen's width (crm_workspace/web/responsive.py)
        pn.viewable.Viewable: {"stylesheets": [pn.theme.Inherit, FIT_CSS_PATH]},
    }

    _resources = {  # noqa: RUF012 - Panel's class attribute
        kind: urls for kind, urls in Fast._resources.items() if kind not in ("font", "js_modules")
    }

    @classmethod
    def _get_modifiers(cls, viewable, theme=None, isolated=True):
        """Panel's modifiers, and for a table its cards' labels on a phone (``card_labels_css``)."""
        modifiers, child_modifiers = super()._get_modifiers(viewable, theme, isolated)
        if isinstance(viewable, pn.widgets.Tabulator) and (labels := card_labels_css(viewable)):
            modifiers["stylesheets"] = [*modifiers.get("stylesheets", []), labels]
        return modifiers, child_modifiers


def frame_css() -> list[str]:
    """The document-level stylesheets of the frame: the design's tokens, the frame, phones."""
    return [(STATIC / name).read_text(encoding="utf-8") for name in ("fast_tokens.css", "frame.css")] + [shell_css()]


class ShellTemplate(BasicTemplate):
    """The app's frame: the title and ``header`` items in a blue bar, ``sidebar`` on the left
    (behind the header's button on a phone), ``main`` in a card."""

    design = param.ClassSelector(class_=Design, default=OfflineFast, is_instance=False, instantiate=False)

    _template: ClassVar[Path] = STATIC / "shell.html"
    _css: ClassVar[list] = []
    _resources: ClassVar[dict] = {"css": {}, "js": {}, "js_modules": {}}

    def __init__(self, **params: Any):
        params.setdefault("header_background", HEADER)
        params.setdefault("header_color", "#ffffff")
        params.setdefault("sidebar_width", 230)
        params.setdefault("busy_indicator", None)
        super().__init__(**params)
        self.config.raw_css.extend(frame_css())

    def _init_doc(self, doc: Any = None, *args: Any, **kwargs: Any) -> Any:
        """Panel's, with the document's model graph walked once at the end, not again after each root."""
        document = create_doc_if_none_exists(doc or pn.state.curdoc)
        frozen = document.models.freeze()  # Bokeh's context manager has no finally: thaw even on an error
        frozen.__enter__()
        try:
            return super()._init_doc(document, *args, **kwargs)
        finally:
            frozen.__exit__(None, None, None)

    def resolve_resources(self, *args: Any, **kwargs: Any) -> dict:
        """Panel's resources, with the frame's colours and font as CSS variables."""
        resources = super().resolve_resources(*args, **kwargs)
        resources["raw_css"].append(
            f":root {{--header-background: {self.header_background}; --header-color: {self.header_color};"
            f" --sidebar-width: {self.sidebar_width}px; --body-font: {SYSTEM_FONT};"
            f" --bokeh-base-font: {SYSTEM_FONT};}}"
        )
        return resources


def frame(title: str = "crm-workspace", **params: Any) -> ShellTemplate:
    """A page in the app's frame (the identity picker, "no access", a dashboard file)."""
    return ShellTemplate(title=title, **params)


class ReadyMark(JSComponent):
    """Tells the browser when a page has rendered: ``performance.mark("crm-ready")`` and ``<body data-ready>``.

    The server sets ``page`` once the session's document is rendered in the browser
    (Panel's ``onload``, after the pages' own deferred loads) and again on each page
    change; the browser marks on the next frame. The page benchmark
    (benchmarks/bench_pages.py) and the browser tests wait on it.
    """

    page = param.String(default="", doc="The page shown; set when it has rendered.")

    _esm = """
    export function render({ model }) {
      const mark = () => {
        if (!model.page) return
        requestAnimationFrame(() => setTimeout(() => {
          document.body.dataset.ready = model.page
          performance.mark("crm-ready", { detail: model.page })
        }))
      }
      model.on("page", () => { delete document.body.dataset.ready; mark() })
      mark()
    }
    """


def _esm_text(component: type[JSComponent]) -> str:
    esm = component._esm
    return esm.read_text(encoding="utf-8") if isinstance(esm, Path) else esm


def _merged_esm(*parts: tuple[str, type[JSComponent]]) -> str:
    """One ES module running each component's ``render`` in turn (each renamed, none drawing anything)."""
    bodies = [
        _esm_text(component).replace("export function render(", f"function {name}(", 1) for name, component in parts
    ]
    calls = "".join(f"  {name}(props)\n" for name, _ in parts)
    return "\n".join(bodies) + f"\nexport function render(props) {{\n{calls}}}\n"


class FrameScript(JSComponent):
    """The frame's browser side in one component: the address bar (``Router``), the phone menu
    (``ShellMenu``) and the ready mark (``ReadyMark``). One model and one ES module instead of three:
    each costs the server a model per session and the browser a module to compile."""

    query = param.String(default="", doc="The address's query string, without '?' (``Router``).")
    page = param.String(default="", doc="The page shown; set when it has rendered (``ReadyMark``).")

    _esm = _merged_esm(("renderRouter", Router), ("renderMenu", ShellMenu), ("renderReady", ReadyMark))


def follow_page(mark: ReadyMark | FrameScript, workspace: Any) -> None:
    """Sets ``mark.page`` to ``workspace.page`` when the session has loaded and after each page change."""

    def loaded() -> None:
        mark.page = workspace.page
        workspace.param.watch(lambda event: setattr(mark, "page", event.new), "page")

    pn.state.onload(loaded)
