"""Docs kept honest: the hook reference matches hookspecs.py, the guide's example works,
every CLI command is in docs/cli.md (each group in the README's table), and the built-in plugins use
only the core API docs/internals.md lists."""

from __future__ import annotations

import ast
import importlib
import re
import sys
import tomllib
from pathlib import Path

import click

from crm_workspace import hookspecs
from crm_workspace.cli import cli
from crm_workspace.cli.scaffold import documented_hook_reference, hook_names, hook_reference

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "plugins.md"
README = ROOT / "README.md"
CLI_REFERENCE = ROOT / "docs" / "cli.md"
INTERNALS = ROOT / "docs" / "internals.md"
LEADING_NAME = re.compile(r"[\w.]*")


def test_hook_reference_matches_hookspecs():
    assert documented_hook_reference(GUIDE) == hook_reference(), (
        "docs/plugins.md is out of date: run `python -m crm_workspace.cli.scaffold --write-docs docs/plugins.md`"
    )


def test_every_hook_is_documented_with_a_docstring():
    defined = sorted(name for name in vars(hookspecs) if name.startswith("crm_"))
    assert sorted(hook_names()) == defined
    guide = GUIDE.read_text()
    for name in defined:
        assert (getattr(hookspecs, name).__doc__ or "").strip(), f"{name} has no docstring"
        assert f"### `{name}(" in guide, name


def example_files() -> dict[str, str]:
    """The code blocks of the guide that start with `# file: PATH`."""
    blocks = re.findall(r"```(?:python|toml)\n# file: (\S+)\n(.*?)```", GUIDE.read_text(), flags=re.S)
    return {path: code for path, code in blocks}


def test_the_guides_complete_example_works(tmp_path: Path):
    files = example_files()
    assert set(files) == {
        "pyproject.toml",
        "crm_workspace_lead_scoring/__init__.py",
        "crm_workspace_lead_scoring/views.py",
        "tests/test_lead_scoring.py",
    }
    for path, code in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(code)
    project = tomllib.loads(files["pyproject.toml"])
    assert project["project"]["entry-points"]["crm_workspace"] == {"lead-scoring": "crm_workspace_lead_scoring"}
    sys.path.insert(0, str(tmp_path))
    try:
        namespace: dict = {}
        exec(compile(files["tests/test_lead_scoring.py"], "test_lead_scoring.py", "exec"), namespace)
        namespace["test_lead_scoring"](tmp_path)  # the guide's own test, run as written
        plugin = importlib.import_module("crm_workspace_lead_scoring")
        assert "import panel" not in files["crm_workspace_lead_scoring/__init__.py"]
        assert {"crm_migrations", "crm_dashboards", "crm_metrics", "crm_data_views"} <= set(vars(plugin))
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.startswith("crm_workspace_lead_scoring")]:
            del sys.modules[name]


def cli_commands() -> list[str]:
    """Every leaf command of `crm`, including those plugins register (`crm plugins list`, ...)."""
    found = []

    def walk(group: click.Group, ctx: click.Context, prefix: str) -> None:
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            if command is None or command.hidden:
                continue
            if isinstance(command, click.Group):
                walk(command, click.Context(command, info_name=name, parent=ctx), f"{prefix} {name}")
            else:
                found.append(f"{prefix} {name}")

    walk(cli, click.Context(cli, info_name="crm"), "crm")
    return found


def test_plugins_new_is_a_command_and_in_the_guide():
    assert "crm plugins new" in cli_commands()
    assert "crm plugins new NAME" in GUIDE.read_text()


def test_every_cli_command_is_documented():
    """Every command is in docs/cli.md; the README's compact table names every group and links there."""
    reference = CLI_REFERENCE.read_text()
    missing = [command for command in cli_commands() if command not in reference]
    assert not missing, f"commands missing from docs/cli.md: {missing}"
    section = README.read_text().split("## Command line", 1)[1].split("\n## ", 1)[0]
    assert "(docs/cli.md)" in section
    groups = sorted({command.split()[1] for command in cli_commands()})
    missing = [group for group in groups if not re.search(rf"`crm {re.escape(group)}\b", section)]
    assert not missing, f"command groups missing from README.md's '## Command line': {missing}"


def documented_api() -> set[str]:
    """What docs/internals.md lists: the module of each ``## `module` `` heading, and the names of
    the ``###`` entries below it (the leading name of each code span), qualified by that module."""
    names: set[str] = set()
    module = None
    for line in INTERNALS.read_text().splitlines():
        if line.startswith("## "):
            heading = re.fullmatch(r"## `([\w.]+)`", line.strip())
            module = heading.group(1) if heading else None
            names.update([module] if module else [])
        elif line.startswith("### ") and module:
            leading_names = (LEADING_NAME.match(span).group() for span in re.findall(r"`([^`]+)`", line))
            names.update(f"{module}.{name}" for name in leading_names)
    return names


def is_core(module: str | None) -> bool:
    return module == "crm_workspace" or (module or "").startswith("crm_workspace.")


def core_names_used(source: str, modules: set[str]) -> list[tuple[int, str]]:
    """The core names a module imports (`if TYPE_CHECKING:` ones too: annotations are API as well),
    and the attributes it reads of core modules it imported whole (``schema.X``)."""
    tree = ast.parse(source)
    used: list[tuple[int, str]] = []
    module_aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and is_core(node.module):
            for alias in node.names:
                used.append((node.lineno, f"{node.module}.{alias.name}"))
                if f"{node.module}.{alias.name}" in modules:
                    module_aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if is_core(alias.name):
                    used.append((node.lineno, alias.name))
                    if alias.asname or "." not in alias.name:
                        module_aliases[alias.asname or alias.name] = alias.name
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in module_aliases:
            used.append((node.lineno, f"{module_aliases[node.value.id]}.{node.attr}"))
    return used


def undocumented_uses(source: str, where: str) -> list[str]:
    documented = documented_api()
    modules = {name for name in documented if f"## `{name}`" in INTERNALS.read_text()}
    return [f"{where}:{line}: {name}" for line, name in core_names_used(source, modules) if name not in documented]


def test_internals_lists_the_api_the_way_the_test_reads_it():
    documented = documented_api()
    assert {
        "crm_workspace",
        "crm_workspace.Workspace",
        "crm_workspace.hookimpl",
        "crm_workspace.PersonalData",
        "crm_workspace.ValidationError",
        "crm_workspace.errors.ValidationError",
        "crm_workspace.data.store.utcnow",
        "crm_workspace.cli.open_workspace",
        "crm_workspace.services.export.write_xlsx",
        "crm_workspace.testing.make_workspace",
    } <= documented
    assert not {"crm_workspace.workspace", "crm_workspace.plugins", "crm_workspace.data.store.Store"} & documented
    source = "from crm_workspace.data import schema\nfrom crm_workspace.web.app import App\nschema.ROLES\n"
    assert undocumented_uses(source, "x.py") == [
        "x.py:2: crm_workspace.web.app.App",
        "x.py:3: crm_workspace.data.schema.ROLES",
    ]


def test_built_in_plugins_use_only_the_documented_core_api():
    found = [
        problem
        for path in sorted((ROOT / "plugins").rglob("*.py"))
        for problem in undocumented_uses(path.read_text(), str(path.relative_to(ROOT)))
    ]
    assert not found, "core names used by plugins/ but not listed in docs/internals.md:\n  " + "\n  ".join(found)


def test_the_guides_example_uses_only_the_documented_core_api():
    found = [
        problem
        for path, code in example_files().items()
        if path.endswith(".py")
        for problem in undocumented_uses(code, f"docs/plugins.md ({path})")
    ]
    assert not found, found
