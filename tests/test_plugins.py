"""The plugin system: discovery, isolation, enable/disable, and the hook contract."""

from __future__ import annotations

import tomllib
from pathlib import Path

import click
import pytest
import sqlite_utils
from click.testing import CliRunner

from crm_workspace import Metric, Page, PluginError, RecordSection, Workspace, hookimpl, hookspecs
from crm_workspace import plugins as plugin_system
from crm_workspace.testing import make_workspace

ROOT = Path(__file__).resolve().parents[1]
BUILTINS = {"contacts", "pipeline", "relationships", "lifecycle", "excel"}


def test_builtins_are_found_through_entry_points():
    found = {ep.name: ep for ep in plugin_system.discover(builtins_only=True)}
    assert set(found) >= BUILTINS
    assert all(found[name].builtin and found[name].distribution == "crm-workspace" for name in BUILTINS)
    assert found["pipeline"].module == "crm_workspace_pipeline"


def test_plugins_folder_wheel_and_entry_points_agree():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    folders = {p.name for p in (ROOT / "plugins").iterdir() if (p / "__init__.py").exists()}
    wheel = {Path(p).name for p in project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]}
    # a package may hold more than one plugin (marketing and its sequences): count packages
    entry_points = {module.split(".")[0] for module in project["project"]["entry-points"]["crm_workspace"].values()}
    assert folders == wheel - {"crm_workspace"} == entry_points


def test_allow_list_env_var(monkeypatch):
    monkeypatch.setenv("CRM_PLUGINS", "pipeline")
    assert [ep.name for ep in plugin_system.discover(builtins_only=True)] == ["pipeline"]


migrations = sqlite_utils.Migrations("crm_workspace.throwaway")


@migrations()
def m001_notes(db):
    db["throwaway_notes"].create({"id": int, "text": str}, pk="id")


class Throwaway:
    """A plugin defined in a test: a table, a page, a metric, a view, a section, a command."""

    @hookimpl
    def crm_migrations(self):
        return migrations

    @hookimpl
    def crm_dashboards(self, workspace):
        return [Page("throwaway", "Throwaway", lambda ws: "throwaway page body", order=99)]

    @hookimpl
    def crm_metrics(self, workspace):
        sql = "SELECT count(*) FROM throwaway_notes"
        return [Metric("notes", "Notes", workspace.store.scalar(sql), sql=sql)]

    @hookimpl
    def crm_data_views(self, workspace):
        return {"throwaway.notes": lambda **kw: workspace.df("throwaway_notes", **kw)}

    @hookimpl
    def crm_record_sections(self, workspace, table, record_id):
        if table == "contacts":
            return [RecordSection("Notes", lambda: f"notes for {record_id}")]
        return None

    @hookimpl
    def crm_field_aliases(self):
        return {"contacts": {"email": ["Courriel"]}}

    @hookimpl
    def crm_search(self, workspace, query, limit):
        import pandas as pd

        return pd.DataFrame([{"type": "throwaway_notes", "id": 1, "title": query, "subtitle": "", "rank": 0.5}])

    @hookimpl
    def crm_demo_data(self, workspace, seed, scale):
        workspace.store.insert("throwaway_notes", {"text": f"seed {seed} scale {scale:g}"})

    @hookimpl
    def crm_register_commands(self, cli):
        @cli.command()
        def hello():
            """Say hello from a plugin."""
            click.echo("hello from throwaway")


def test_a_throwaway_plugin_adds_a_table_a_page_a_metric_and_more(tmp_path):
    ws = make_workspace(tmp_path / "crm.db", plugins=(Throwaway(),))
    assert "throwaway_notes" in ws.store.db.table_names()
    assert "throwaway" in [p.name for p in ws.pages()]
    ws.store.insert("throwaway_notes", {"text": "hi"})
    assert [m.value for m in ws.metrics() if m.key == "notes"] == [1]
    assert ws.df("throwaway.notes")["text"].tolist() == ["hi"]
    assert "Notes" in [s.title for s in ws.record_sections("contacts", 1)]
    assert "Notes" not in [s.title for s in ws.record_sections("deals", 1)]
    assert "Courriel" in ws.field_aliases()["contacts"]["email"]
    assert ws.search("zoë")["title"].tolist()[0] == "zoë"
    info = {p.name: p for p in ws.plugins()}["Throwaway"]
    assert info.enabled and "crm_dashboards" in info.hooks


def test_demo_data_hook_runs_after_core_tables(tmp_path):
    ws = make_workspace(tmp_path / "crm.db", plugins=(Throwaway(),), demo=True, seed=3)
    assert ws.df("throwaway_notes")["text"].tolist() == ["seed 3 scale 1"]


def test_a_plugin_command_joins_the_cli():
    group = click.Group("crm")
    pm = plugin_system.make_plugin_manager()
    pm.register(Throwaway(), name="throwaway")
    list(plugin_system.call_each(pm, "crm_register_commands", cli=group))
    result = CliRunner().invoke(group, ["hello"])
    assert result.exit_code == 0 and result.output == "hello from throwaway\n"


class RaisesEverywhere:
    @hookimpl
    def crm_dashboards(self, workspace):
        raise RuntimeError("dashboards exploded")

    @hookimpl
    def crm_metrics(self, workspace):
        raise RuntimeError("metrics exploded")


class PageRaises:
    @hookimpl
    def crm_dashboards(self, workspace):
        def view(ws):
            raise ValueError("<b>broken</b> view")

        return [Page("broken", "Broken", view)]


def test_a_plugin_that_raises_is_reported_and_the_rest_work(tmp_path):
    ws = make_workspace(tmp_path / "crm.db", plugins=(RaisesEverywhere(),))
    names = [p.name for p in ws.pages()]
    assert {"contacts", "pipeline"} <= set(names)
    assert ws.metrics()  # the built-ins' cards still come
    errors = {e.plugin: str(e) for e in ws.plugin_errors()}
    assert "RaisesEverywhere" in errors and "exploded" in errors["RaisesEverywhere"]


def test_a_page_that_raises_shows_an_error_card_naming_the_plugin(tmp_path):
    ws = make_workspace(tmp_path / "crm.db", plugins=(PageRaises(),))
    card = ws.dashboard("broken")
    assert type(card).__name__ == "Alert" and card.alert_type == "danger"
    assert "plugin 'PageRaises'" in card.object and "&lt;b&gt;broken&lt;/b&gt;" in card.object
    assert type(ws.dashboard("pipeline")).__name__ != "Alert"


def test_duplicate_page_names_are_reported_and_skipped(tmp_path):
    class Copycat:
        @hookimpl
        def crm_dashboards(self, workspace):
            return [Page("pipeline", "My pipeline", lambda ws: "copy")]

    ws = make_workspace(tmp_path / "crm.db", plugins=(Copycat(),))
    pipeline_pages = [p for p in ws.pages() if p.name == "pipeline"]
    assert len(pipeline_pages) == 1
    assert any("already taken" in str(e) for e in ws.plugin_errors())


def test_a_misspelled_hook_is_refused_with_the_plugin_named(workspace: Workspace):
    class Typo:
        @hookimpl
        def crm_dashboard(self, workspace):  # missing "s"
            return []

    with pytest.raises(PluginError, match=r"plugin 'typo' failed in register: unknown hook 'crm_dashboard'"):
        workspace.register(Typo(), name="typo")
    assert not workspace.pm.has_plugin("typo")


def test_disable_and_enable_persist_in_the_database(tmp_path):
    path = tmp_path / "crm.db"
    ws = make_workspace(path)
    ws.disable("pipeline")
    assert "pipeline" not in [p.name for p in ws.pages()]
    ws.close()
    reopened = Workspace.open(path, builtins_only=True)
    assert "pipeline" not in [p.name for p in reopened.pages()]
    assert {p.name: p.enabled for p in reopened.plugins()}["pipeline"] is False
    reopened.enable("pipeline")
    assert "pipeline" in [p.name for p in Workspace.open(path, builtins_only=True).pages()]


def test_unknown_plugin_names_are_clear(workspace: Workspace):
    with pytest.raises(Exception, match="no plugin named 'nope' is installed"):
        workspace.disable("nope")


def test_every_hook_is_documented_and_tested():
    """The meta-test: each hookspec has a docstring and is exercised by some test."""
    names = [n for n in dir(hookspecs) if n.startswith("crm_")]
    tests = "\n".join(p.read_text() for p in Path(__file__).parent.rglob("test_*.py"))
    for name in names:
        assert (getattr(hookspecs, name).__doc__ or "").strip(), f"{name} has no docstring"
        assert f"def {name}(" in tests, f"no test implements {name}"


class MetricsWrapper:
    """A cross-cutting wrapper around every plugin's metrics: adds one card."""

    @hookimpl(wrapper=True)
    def crm_metrics(self, workspace):
        results = yield
        return [*results, [Metric("wrapped", "Wrapped", 1)]]


def test_a_wrapper_hookimpl_works_and_hook_calls_are_traced(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CRM_TRACE_HOOKS", "1")
    ws = make_workspace(tmp_path / "crm.db", plugins=(MetricsWrapper(), RaisesEverywhere()))
    metrics = {m.key: m for m in ws.metrics()}
    assert metrics["wrapped"].plugin == "MetricsWrapper"
    assert {m.plugin for m in metrics.values()} > {"MetricsWrapper"}  # the others' cards still come
    assert "metrics exploded" in str({e.plugin: e for e in ws.plugin_errors()}["RaisesEverywhere"])
    ws.store.insert("organizations", {"name": "Traced"})
    traced = capsys.readouterr().err
    for hook in ("crm_metrics", "crm_validate_record", "crm_record_changed"):
        assert hook in traced, hook


class FailingMigration:
    @hookimpl
    def crm_migrations(self):
        broken = sqlite_utils.Migrations("crm_workspace.failing")

        @broken()
        def m001_explode(db):
            raise RuntimeError("migration exploded")

        return broken

    @hookimpl
    def crm_dashboards(self, workspace):
        return [Page("failing", "Failing", lambda ws: "never shown")]


def test_a_plugin_whose_migration_fails_is_failed_and_its_pages_unused(workspace: Workspace):
    with pytest.raises(PluginError, match="failed in crm_migrations: RuntimeError: migration exploded"):
        workspace.register(FailingMigration(), name="failing")
    assert "failing" not in [p.name for p in workspace.pages()]
    info = {p.name: p for p in workspace.plugins()}["failing"]
    assert not info.enabled and "migration exploded" in info.error
    assert "failing" in {e.plugin for e in workspace.plugin_errors()}


def test_cli_and_workspace_agree_that_a_plugin_failed_to_import(tmp_path, monkeypatch):
    from crm_workspace.cli import cli

    real_load = plugin_system.load

    def load(ep):
        if ep.name == "lifecycle":
            raise ImportError("No module named 'lifecycle_dependency'")
        return real_load(ep)

    monkeypatch.setattr(plugin_system, "load", load)
    db = tmp_path / "crm.db"
    ws = Workspace.open(db, builtins_only=True)
    info = {p.name: p for p in ws.plugins()}["lifecycle"]
    assert not info.enabled and "lifecycle_dependency" in info.error
    assert "lifecycle" not in [p.name for p in ws.pages()]
    ws.close()
    monkeypatch.setattr(cli, "_plugins_loaded", False)
    result = CliRunner().invoke(cli, ["--db", str(db), "plugins", "list"])
    assert result.exit_code == 0, result.output
    line = next(line for line in result.stdout.splitlines() if line.startswith("lifecycle"))
    assert " failed " in line
    assert result.stderr.count("lifecycle_dependency") == 1  # one warning, not one per loader


def test_an_unknown_name_in_the_allow_list_is_said(monkeypatch, tmp_path):
    monkeypatch.setenv("CRM_PLUGINS", "pipeline,nosuch")
    ws = Workspace.open(tmp_path / "crm.db", builtins_only=True)
    (error,) = ws.plugin_errors()
    assert str(error).startswith("plugin 'nosuch' failed in CRM_PLUGINS: not installed (installed: api, automation, ")
    assert [p.name for p in ws.plugins()] == ["pipeline"]
