"""The tutorial notebooks run top to bottom on small data, and are committed without outputs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
# Seconds any single cell may take on a busy 2-core machine (all four run in about a minute).
CELL_TIMEOUT = 240

# Appended to each executed copy: the kernel must be this interpreter, importing this tree.
_KERNEL_CHECK = "import sys, visitrisk\nprint(sys.executable)\nprint(visitrisk.__file__)"


def test_the_four_tutorials_are_there():
    assert [path.name for path in NOTEBOOKS] == [
        "01_quickstart.ipynb",
        "02_explaining_scores.ipynb",
        "03_planning_with_staff.ipynb",
        "04_comparing_models_in_mlflow.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_committed_notebook_has_no_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code_cells
    assert [cell.outputs for cell in code_cells] == [[]] * len(code_cells)
    assert [cell.execution_count for cell in code_cells] == [None] * len(code_cells)
    assert notebook.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_runs(path, tmp_path, monkeypatch):
    # The kernel inherits this environment: this tree's source first, no telemetry, and a
    # home and working folder of its own so nothing is written into the repository.
    python_path = os.environ.get("PYTHONPATH")
    source = str(ROOT / "src")
    monkeypatch.setenv("PYTHONPATH", source + (os.pathsep + python_path if python_path else ""))
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(_KERNEL_CHECK))
    # "python" in the python3 kernel spec resolves to sys.executable (jupyter_client).
    client = nbclient.NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()

    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error"
    ]
    assert errors == []
    executable, module = notebook.cells[-1].outputs[0]["text"].split()
    assert Path(executable).resolve() == Path(sys.executable).resolve()
    assert Path(module).resolve().is_relative_to(Path(source).resolve())
    assert not list(path.parent.glob("*.db")), "a notebook wrote into notebooks/"
