"""Public testing helpers for plugin authors (and this project's own tests).

from crm_workspace.testing import make_workspace, workspace  # noqa: F401  (a pytest fixture)

def test_my_plugin(workspace):
    workspace.register(MyPlugin(), name="my-plugin")
    ...

Also: ``registered(ws, plugin)`` (register for a ``with`` block), ``page_text(obj)``
(the text a person would read on a rendered page, without a browser) and
``assert_no_plugin_errors(ws)``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crm_workspace.workspace import Workspace


def make_workspace(
    path: str | Path,
    *,
    demo: bool = False,
    builtins: bool = True,
    plugins: tuple[Any, ...] = (),
    user: str = "tester",
    seed: int = 42,
    contacts: int = 300,
) -> Workspace:
    """Open a fresh workspace at ``path``: built-in modules (or none), extra plugins, demo data."""
    ws = Workspace.open(path, user=user, builtins_only=True, load_plugins=builtins)
    for plugin in plugins:
        ws.register(plugin)
    if demo:
        from crm_workspace.services.demo import DemoSize, generate

        generate(ws, DemoSize.for_contacts(contacts), seed=seed)
    return ws


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    """An empty workspace with the built-in modules, in a temporary directory."""
    ws = make_workspace(tmp_path / "crm.db")
    yield ws
    ws.close()


@pytest.fixture
def demo_workspace(tmp_path: Path) -> Iterator[Workspace]:
    """A workspace with the built-in modules and the standard demo data."""
    ws = make_workspace(tmp_path / "crm.db", demo=True)
    yield ws
    ws.close()


@contextlib.contextmanager
def registered(ws: Workspace, plugin: Any, name: str | None = None) -> Iterator[str]:
    """Register ``plugin`` on ``ws`` for the ``with`` block, then unregister it."""
    registered_name = ws.register(plugin, name=name)
    try:
        yield registered_name
    finally:
        ws.unregister(registered_name)


def page_text(obj: Any) -> str:
    """The text a person would read in a Panel object (a page, a pane, a layout), newline-separated.

    Walks layouts and ``Viewer`` objects, evaluates bound functions and
    ``param.depends`` methods, and reads Markdown/HTML/Alert text, widget names
    and values, and the cells of Tabulator/DataFrame panes, so a plugin's page can
    be tested without a server or a browser.
    """
    import panel as pn

    parts: list[str] = []
    # visited objects by id, kept alive: the walk makes temporary objects (bound functions'
    # results), and a freed one's id may be reused by the next, which was then skipped
    seen: dict[int, Any] = {}

    def walk(item: Any, depth: int = 0) -> None:
        if item is None or depth > 50 or id(item) in seen:
            return
        seen[id(item)] = item
        if isinstance(item, str):
            parts.append(item)
            return
        if isinstance(item, pn.viewable.Viewer):
            walk(item.__panel__(), depth + 1)
            return
        if not isinstance(item, pn.viewable.Viewable):
            walk(pn.panel(item), depth + 1)
            return
        if isinstance(item, pn.param.ParamFunction | pn.param.ParamMethod):
            walk(item.eval(item.object), depth + 1)
            return
        if isinstance(item, pn.widgets.Tabulator | pn.pane.DataFrame):
            frame = item.value if isinstance(item, pn.widgets.Tabulator) else item.object
            parts.append(frame.to_string(index=False) if frame is not None else "")
            return
        if isinstance(item, pn.widgets.Widget):
            parts.extend(str(v) for v in (getattr(item, "name", ""), getattr(item, "value", "")) if v not in ("", None))
            return
        if isinstance(item, pn.pane.PaneBase):
            if isinstance(item.object, str):
                parts.append(item.object)
            return
        for child in getattr(item, "objects", []) or []:
            walk(child, depth + 1)

    walk(obj)
    return "\n".join(part for part in parts if part)


def assert_no_plugin_errors(ws: Workspace) -> None:
    """Fail with every plugin problem the workspace recorded (failed hooks, duplicate pages)."""
    errors = ws.plugin_errors()
    assert not errors, "plugin errors:\n" + "\n".join(str(e) for e in errors)
