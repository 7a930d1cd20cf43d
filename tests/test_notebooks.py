"""Notebooks in notebooks/ run top to bottom in a real kernel, so they never rot."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import tracker
from tests.conftest import ROOT, python_env
from tracker.demo import make_demo_store

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

pytestmark = pytest.mark.slow  # real kernels: out of the quick loop (pytest -m "not slow")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    store = tmp_path / "demo-store"
    make_demo_store(dir=str(store), runs=5, steps=300)
    for key, value in python_env(TRACKER_DIR=str(store)).items():
        monkeypatch.setenv(key, value)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
    landed = {"quickstart.ipynb": "notebook", "artifacts.ipynb": "_artifacts", "media.ipynb": "media-demo",
              "lightning.ipynb": "lightning-demo"}[path.name]
    assert os.path.exists(store / landed)  # what the notebook wrote is in the store


def test_a_second_init_in_a_notebook_finishes_the_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """In a kernel, reinit defaults to finish_previous: re-running a cell starts a fresh run."""
    for key, value in python_env(TRACKER_DIR=str(tmp_path / "store")).items():
        monkeypatch.setenv(key, value)
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import tracker\n"
            "first = tracker.init(project='nb', settings={'quiet': True, 'strict': True})\n"
            "first.log({'a': 1.0})\n"
            "second = tracker.init(project='nb', settings={'quiet': True, 'strict': True})\n"
            "assert first.state == 'finished', first.state\n"
            "assert tracker.run is second and second is not first\n"
            "print(tracker.Api().run(first.path).state)"
        )
    ]
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = nb.cells[0].outputs
    assert [o.get("text", "").strip() for o in outputs if o.output_type == "stream"] == ["finished"], outputs


def test_executed_cells_are_recorded_with_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import json

    store = tmp_path / "store"
    for key, value in python_env(TRACKER_DIR=str(store)).items():
        monkeypatch.setenv(key, value)
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import tracker\nrun = tracker.init(project='cells', settings={'quiet': True})"),
        nbformat.v4.new_code_cell("x = 41\nrun.log({'x': x})"),
        nbformat.v4.new_code_cell("print(x + 1)"),
        nbformat.v4.new_code_cell("path = run.path\nrun.finish()\nprint(path)"),
        nbformat.v4.new_code_cell("y = 'after the run'"),
    ]
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    path = nb.cells[3].outputs[-1]["text"].strip()
    run = tracker.Api(dir=store).run(path)
    cells = [json.loads(line) for line in Path(run.file("notebook-cells.jsonl")).read_text().splitlines()]
    assert [c["execution_count"] for c in cells] == [1, 2, 3]
    assert cells[1]["source"] == "x = 41\nrun.log({'x': x})" and all(c["success"] for c in cells)
    assert "42" in [r["text"] for r in run.logs()]  # the notebook's output is in the run's console
