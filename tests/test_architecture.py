"""The core's shape, checked from the source: layers, no import cycle, a data layer free of UI
libraries, small files.

Imports are read with ``ast``, so the test sees what a change does before anything runs. Imports
inside functions count (they run, just later); imports under ``if TYPE_CHECKING:`` do not (they
never run). Importing ``a.b.c`` is an edge to ``a.b.c`` only, not to the packages ``a`` and ``a.b``
Python initialises on the way (as import-linter and pydeps count them): otherwise every module
would "import" ``crm_workspace/__init__.py``, the facade that sits above the data layer.

Layers, lowest first (DESIGN.md): ground (errors, types, hookspecs) -> data (crm_workspace.data)
-> host (plugins.py, workspace.py, core_rules.py, other top-level core modules, and the package
root ``crm_workspace``, the public facade that re-exports Workspace) -> services -> shells (cli/,
web/, testing.py, __main__.py) -> the plugins in plugins/, which the core never imports.
"""

from __future__ import annotations

import ast
import re
from collections import deque
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "crm_workspace"
PLUGINS = ROOT / "plugins"
MAX_LINES = 450

LAYERS = ("ground", "data", "host", "services", "shells", "facade", "plugins")
GROUND = {"errors", "types", "hookspecs"}
SHELLS = {"cli", "web", "__main__"}
#: the public face above the shells: the package root (it hands the core Workspace its UI), test helpers
FACADE = {"testing"}
#: what crm_workspace/data/ (and the ground under it) must never import: the data layer serves
#: scripts, notebooks and the CLI, none of which should pay for (or depend on) a UI
UI_LIBRARIES = {"panel", "bokeh", "param", "click"}


@dataclass(frozen=True)
class Import:
    """One import statement's target, as seen in ``importer``'s source."""

    importer: str
    target: str  # a project module, or the top-level name of a third-party package
    line: int
    module_level: bool  # runs when the importer is imported (not only when a function is called)

    def where(self) -> str:
        return f"{path_of(self.importer).relative_to(ROOT)}:{self.line}"


def module_name(path: Path, base: Path) -> str:
    parts = path.relative_to(base).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def project_modules() -> dict[str, Path]:
    """Every module of the core and of the built-in plugins, by dotted name."""
    modules = {module_name(path, ROOT): path for path in CORE.rglob("*.py")}
    modules |= {module_name(path, PLUGINS): path for path in PLUGINS.glob("*/**/*.py")}
    return dict(sorted(modules.items()))


def path_of(module: str) -> Path:
    return project_modules()[module]


def layer(module: str) -> str:
    parts = module.split(".")
    if parts[0] != "crm_workspace":
        return "plugins"
    if len(parts) == 1:
        return "facade"  # the package root gives the core Workspace its UI backend: nothing in the core imports it
    if parts[1] in GROUND:
        return "ground"
    if parts[1] == "data":
        return "data"
    if parts[1] == "services":
        return "services"
    if parts[1] in SHELLS:
        return "shells"
    if parts[1] in FACADE:
        return "facade"
    return "host"


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def nearest_module(name: str) -> str:
    """The longest prefix of ``name`` that is a project module, else its top-level package."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in project_modules():
            return ".".join(parts[:end])
    return parts[0]


def targets(importer: str, node: ast.Import | ast.ImportFrom, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [nearest_module(alias.name) for alias in node.names]
    base = node.module or ""
    if node.level:
        package = importer.split(".") if is_package else importer.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, *([node.module] if node.module else [])])
    # `from pkg import name` imports the submodule pkg.name when there is one, else pkg itself
    return [
        f"{base}.{alias.name}" if f"{base}.{alias.name}" in project_modules() else nearest_module(base)
        for alias in node.names
    ]


@cache
def imports_of(module: str) -> tuple[Import, ...]:
    """Every import ``module`` can run, with where it stands."""
    path = path_of(module)
    return imports_in(module, path.read_text(), is_package=path.name == "__init__.py")


def imports_in(module: str, source: str, *, is_package: bool = False) -> tuple[Import, ...]:
    found: list[Import] = []
    tree = ast.parse(source)
    constants = module_constants(tree)

    def visit(node: ast.AST, module_level: bool) -> None:
        if isinstance(node, ast.If) and is_type_checking(node.test):
            for child in node.orelse:
                visit(child, module_level)
            return
        if isinstance(node, ast.Import | ast.ImportFrom):
            imported = targets(module, node, is_package)
            found.extend(Import(module, target, node.lineno, module_level) for target in imported)
        if (name := dynamic_import(node, constants)) is not None:
            found.append(Import(module, nearest_module(name), node.lineno, module_level))
        inner = module_level and not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(tree, True)
    return tuple(found)


def module_constants(tree: ast.Module) -> dict[str, str]:
    """The module's top-level ``NAME = "text"`` assignments."""
    constants = {}
    for node in tree.body:
        value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            names = node.targets if isinstance(node, ast.Assign) else [node.target]
            constants.update({target.id: value.value for target in names if isinstance(target, ast.Name)})
    return constants


def dynamic_import(node: ast.AST, constants: dict[str, str]) -> str | None:
    """The module ``importlib.import_module(...)`` or ``__import__(...)`` imports, when written in the source.

    A module named in a string is still imported: an upward import hidden in one is still upward.
    """
    if not isinstance(node, ast.Call) or not node.args:
        return None
    function = node.func
    name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
    if name not in ("import_module", "__import__"):
        return None
    argument = node.args[0]
    if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
        return argument.value
    return constants.get(argument.id) if isinstance(argument, ast.Name) else None


def internal_imports() -> list[Import]:
    return [imp for module in project_modules() for imp in imports_of(module) if imp.target in project_modules()]


def import_graph() -> dict[str, dict[str, Import]]:
    """module -> {imported project module -> the first import statement of it}."""
    graph: dict[str, dict[str, Import]] = {module: {} for module in project_modules()}
    for imp in internal_imports():
        if imp.target != imp.importer:
            graph[imp.importer].setdefault(imp.target, imp)
    return graph


def strongly_connected(graph: dict[str, dict[str, Import]]) -> list[list[str]]:
    """Tarjan's algorithm: the groups of modules that import each other, directly or not."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            groups.append(sorted(group))

    for node in graph:
        if node not in index:
            connect(node)
    return [group for group in groups if len(group) > 1]


def shortest_cycle(graph: dict[str, dict[str, Import]], group: list[str]) -> list[Import]:
    """One shortest cycle through the group's first module, as the imports that make it."""
    start, members = group[0], set(group)
    came_from: dict[str, Import] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for target, imp in graph[node].items():
            if target == start:
                path = [imp]
                while path[0].importer != start:
                    path.insert(0, came_from[path[0].importer])
                return path
            if target in members and target not in came_from:
                came_from[target] = imp
                queue.append(target)
    raise AssertionError(f"no cycle through {start}")  # unreachable for a strongly connected group


def describe(imp: Import) -> str:
    return f"{imp.importer} ({layer(imp.importer)}) -> {imp.target} ({layer(imp.target)})  at {imp.where()}"


def test_the_scan_sees_the_project():
    modules = project_modules()
    assert {"crm_workspace", "crm_workspace.data.store", "crm_workspace.workspace"} <= set(modules)
    assert any(layer(module) == "plugins" for module in modules)
    store_imports = {imp.target for imp in imports_of("crm_workspace.data.store")}
    assert "crm_workspace.errors" in store_imports


def test_the_scan_counts_function_and_dynamic_imports_resolves_relative_ones_and_skips_type_checking():
    source = """
import typing
from typing import TYPE_CHECKING
from . import schema
from .. import errors
from ..types import Change

if TYPE_CHECKING:
    from crm_workspace.workspace import Workspace
else:
    import json

if typing.TYPE_CHECKING:
    import panel

UI = "crm_workspace.web.app"

def later():
    from crm_workspace import Page
    import pandas as pd
    importlib.import_module(UI)
"""
    found = {(imp.target, imp.module_level) for imp in imports_in("crm_workspace.data.store", source)}
    assert found == {
        ("typing", True),
        ("crm_workspace.data.schema", True),
        ("crm_workspace.errors", True),
        ("crm_workspace.types", True),
        ("json", True),
        ("crm_workspace", False),
        ("pandas", False),
        ("crm_workspace.web.app", False),
    }
    in_package = imports_in("crm_workspace.data", "from . import store\nfrom .store import Store", is_package=True)
    assert [imp.target for imp in in_package] == ["crm_workspace.data.store", "crm_workspace.data.store"]


def test_no_import_cycle():
    graph = import_graph()
    cycles = []
    for group in strongly_connected(graph):
        steps = "\n      ".join(describe(imp) for imp in shortest_cycle(graph, group))
        inside = "\n      ".join(
            describe(imp) for module in group for imp in graph[module].values() if imp.target in group
        )
        cycles.append(
            f"{len(group)} modules: {', '.join(group)}\n    for example:\n      {steps}\n    every import among them:\n      {inside}"
        )
    assert not cycles, "import cycles (imports inside functions count):\n  " + "\n  ".join(cycles)


def test_imports_go_down_the_layers():
    upward = [
        describe(imp)
        for imp in internal_imports()
        if LAYERS.index(layer(imp.target)) > LAYERS.index(layer(imp.importer))
    ]
    upward = list(dict.fromkeys(upward))  # one line per statement, however many names it imports
    assert not upward, "imports from a lower layer to a higher one:\n  " + "\n  ".join(upward)


def test_the_data_layer_imports_no_ui_library_and_no_pandas_at_import_time():
    lower = [module for module in project_modules() if layer(module) in ("ground", "data")]
    offending = [
        f"{imp.where()}: {imp.target}" + ("" if imp.module_level else " (inside a function)")
        for module in lower
        for imp in imports_of(module)
        if imp.target in UI_LIBRARIES or (imp.target == "pandas" and imp.module_level)
    ]
    assert not offending, "crm_workspace/data/ and the ground must not import these:\n  " + "\n  ".join(offending)


def test_no_file_is_over_450_lines():
    files = [*CORE.rglob("*.py"), *PLUGINS.rglob("*.py")]
    too_long = sorted(
        f"{path.relative_to(ROOT)}: {lines}"
        for path in files
        if (lines := len(path.read_text().splitlines())) > MAX_LINES
    )
    assert not too_long, f"files over {MAX_LINES} lines (split them by what they do):\n  " + "\n  ".join(too_long)


#: emoji (pictographs, and the variation selector that asks for an emoji's colour form): drawn from an emoji
#: font, which many machines lack (empty boxes, issue 18); the app's icons are crm_workspace.web.icons
EMOJI = re.compile("[\U0001f000-\U0001faff\ufe0f]")
#: where an emoji is meant: a survey e-mail's links (read in a mail client), and docs of third-party pages
EMOJI_MEANT = {"plugins/crm_workspace_surveys/rules.py", "crm_workspace/web/icons.py", "crm_workspace/types.py"}


def test_no_screen_draws_an_emoji():
    files = [*CORE.rglob("*.py"), *CORE.rglob("*.js"), *PLUGINS.rglob("*.py"), *PLUGINS.rglob("*.js")]
    found = sorted(
        f"{path.relative_to(ROOT)}:{number}: {line.strip()[:80]}"
        for path in files
        if str(path.relative_to(ROOT)) not in EMOJI_MEANT
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if EMOJI.search(line)
    )
    assert not found, "emoji in the app (use crm_workspace.web.icons.svg):\n  " + "\n  ".join(found)


def test_a_built_in_plugin_imports_no_other_plugin():
    """Built-ins meet through hooks and the core's public API only, as third-party plugins must."""
    crossing = list(
        dict.fromkeys(
            describe(imp)
            for imp in internal_imports()
            if layer(imp.importer) == layer(imp.target) == "plugins"
            and imp.importer.split(".")[0] != imp.target.split(".")[0]
        )
    )
    assert not crossing, "built-in plugins importing each other:\n  " + "\n  ".join(crossing)
