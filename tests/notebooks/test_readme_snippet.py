"""The README's notebook snippet runs as written in a Jupyter kernel, and its dashboard shows inline offline."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]


def readme_snippet() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## In a notebook", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_notebook_snippet_runs_and_shows_a_dashboard_inline(demo_template, tmp_path, monkeypatch):
    snippet = readme_snippet()
    assert "pn.extension(" in snippet
    shutil.copy(demo_template, tmp_path / "crm.db")
    monkeypatch.delenv("CRM_DB", raising=False)
    book = nbformat.v4.new_notebook()
    book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    book.cells = [nbformat.v4.new_code_cell(snippet), nbformat.v4.new_code_cell('ws.dashboard("pipeline")')]
    client = NotebookClient(book, kernel_name="python3", timeout=180, resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError if any line fails
    first, dashboard = book.cells
    loaded = " ".join(str(out["data"].get("application/javascript", "")) for out in first.outputs if "data" in out)
    # offline: BokehJS, Panel and Tabulator come inline with the cell's output, no script or style fetched
    assert "const js_urls = [];" in loaded and "const css_urls = [];" in loaded
    assert 'inject_raw_css(".tabulator{' in loaded
    mimes = {key for out in dashboard.outputs for key in out.get("data", {})}
    assert "application/vnd.holoviews_exec.v0+json" in mimes, mimes  # Panel's inline display
