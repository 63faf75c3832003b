"""Execute every notebook in notebooks/ top to bottom against a fresh demo workspace.

The kernel is the ``python3`` kernelspec that ipykernel installs into this venv
(``.venv/share/jupyter/kernels``); its ``python`` is this interpreter, so the
notebooks run with the project's own packages. Each notebook gets its own copy
of the demo database through ``$CRM_DB``.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def execute(path: Path, db: Path, monkeypatch: pytest.MonkeyPatch) -> nbformat.NotebookNode:
    monkeypatch.setenv("CRM_DB", str(db))
    monkeypatch.setenv("CRM_USER", "ana")
    book = nbformat.read(path, as_version=4)
    client = NotebookClient(book, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(db.parent)}})
    client.execute()
    return book


def outputs(book: nbformat.NotebookNode) -> str:
    texts = []
    for cell in book.cells:
        for output in cell.get("outputs", []):
            texts.append(output.get("text", ""))
            texts.extend(str(v) for k, v in output.get("data", {}).items() if k.startswith("text/"))
    return "\n".join(texts)


def test_there_are_three_notebooks():
    assert [p.name for p in NOTEBOOKS] == ["01-quick-start.ipynb", "02-analysis.ipynb", "03-write-a-plugin.ipynb"]


def test_notebooks_are_committed_without_outputs():
    for path in NOTEBOOKS:
        book = nbformat.read(path, as_version=4)
        assert book.metadata["kernelspec"]["name"] == "python3", path.name
        assert all(not cell.get("outputs") for cell in book.cells if cell.cell_type == "code"), path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path: Path, demo_template: Path, tmp_path: Path, monkeypatch):
    db = tmp_path / "crm.db"
    shutil.copy(demo_template, db)
    book = execute(path, db, monkeypatch)
    text = outputs(book)
    if path.stem == "01-quick-start":
        assert "Workspace" in text and "was changed by" in text  # the stale write was refused
    elif path.stem == "02-analysis":
        assert "customers (20%) bring" in text
    elif path.stem == "03-write-a-plugin":
        assert "unknown hook 'crm_dashbaords'" in text and "typo-plugin" in text
        assert "already taken by 'lead-scoring'" in text
        assert 'lead-scoring = "crm_workspace_lead_scoring"' in text


def test_kernel_is_this_interpreter():
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    assert spec.argv[0] in ("python", sys.executable), spec.argv
