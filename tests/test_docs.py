"""Docs kept honest: the hook reference matches hookspecs.py, the guide's example works,
every CLI command is in the README's command-line reference."""

from __future__ import annotations

import importlib
import re
import sys
import tomllib
from pathlib import Path

import click
import pytest

from crm_workspace import hookspecs
from crm_workspace.cli import cli
from crm_workspace.cli.scaffold import documented_hook_reference, hook_names, hook_reference

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "plugins.md"
README = ROOT / "README.md"


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


def test_every_cli_command_is_in_the_readme():
    text = README.read_text()
    if "## Command line" not in text:
        pytest.skip("README.md has no '## Command line' section yet")
    section = text.split("## Command line", 1)[1].split("\n## ", 1)[0]
    missing = [command for command in cli_commands() if command not in section]
    assert not missing, f"commands missing from README.md's '## Command line': {missing}"
