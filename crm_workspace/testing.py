"""Public testing helpers for plugin authors (and this project's own tests).

from crm_workspace.testing import make_workspace, workspace  # noqa: F401  (a pytest fixture)

def test_my_plugin(workspace):
    workspace.register(MyPlugin(), name="my-plugin")
    ...
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .workspace import Workspace


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
        from .demo import DemoSize, generate

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
