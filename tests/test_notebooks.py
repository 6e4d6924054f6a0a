"""Every notebook runs top to bottom in a fresh kernel, and is committed clean.

The execution tests are marked slow (each notebook takes seconds). Each one
records its run time; the summary at the end of the pytest run lists them.
Notebooks are executed on a copy: the committed files are never rewritten here
(use ``python scripts/run_notebooks.py`` for that).
"""

from __future__ import annotations

import importlib.util
import re
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbclient")

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = REPO_ROOT / "notebooks"


def _load_runner():
    spec = importlib.util.spec_from_file_location("run_notebooks", REPO_ROOT / "scripts" / "run_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


runner = _load_runner()
NOTEBOOKS = runner.notebook_paths()
NOTEBOOK_IDS = [p.name for p in NOTEBOOKS]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=NOTEBOOK_IDS)
def test_notebook_runs_without_error(path: Path, record_property) -> None:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    runner.execute(nb, NOTEBOOK_DIR)  # raises CellExecutionError naming the cell and the traceback
    seconds = time.perf_counter() - start
    record_property("notebook_seconds", round(seconds, 1))
    print(f"{path.name}: {seconds:.1f} s")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NOTEBOOK_IDS)
def test_notebook_is_committed_with_outputs_and_without_noise(path: Path) -> None:
    assert runner.problems(path) is None, f"{path.name}: {runner.problems(path)}"


def test_there_are_notebooks_and_no_checkpoints() -> None:
    assert NOTEBOOKS, "no notebooks found in notebooks/"
    assert not list(REPO_ROOT.glob("**/.ipynb_checkpoints")), "remove .ipynb_checkpoints directories"


def test_notebook_readme_links_every_notebook() -> None:
    readme = (NOTEBOOK_DIR / "README.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\(([^)]+\.ipynb)\)", readme))
    missing = [p.name for p in NOTEBOOKS if p.name not in linked]
    assert not missing, f"notebooks/README.md does not link {missing}"
    dangling = [name for name in linked if not (NOTEBOOK_DIR / name).exists()]
    assert not dangling, f"notebooks/README.md links missing notebooks {dangling}"


def test_normalise_removes_execution_noise() -> None:
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": runner.KERNELSPEC, "widgets": {"state": {}}})
    timing = {"execution": {"iopub.status.busy": "2026-01-01T00:00:00.000000Z"}}
    code = nbformat.v4.new_code_cell("print(1)", execution_count=7, metadata={**timing, "tags": ["x"]})
    code.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="a\n"),
        nbformat.v4.new_output("stream", name="stdout", text="b\n"),
        nbformat.v4.new_output("execute_result", data={"text/plain": "1"}, execution_count=7),
    ]
    nb.cells = [nbformat.v4.new_markdown_cell("# t"), code]
    clean = runner.normalise(nb)
    assert clean.metadata == {"kernelspec": runner.KERNELSPEC, "language_info": {"name": "python"}}
    assert [c.id for c in clean.cells] == ["cell-01", "cell-02"]
    cell = clean.cells[1]
    assert cell.execution_count == 1 and cell.metadata == {"tags": ["x"]}
    assert cell.outputs[0]["text"] == "a\nb\n" and len(cell.outputs) == 2
    assert cell.outputs[1]["execution_count"] == 1
    assert runner.normalise(clean) == clean
    assert runner.normalise(nb) != nb  # the original had noise, and was not modified in place
    assert nb.cells[1].execution_count == 7


def test_kernel_env_makes_pythonpath_absolute(monkeypatch) -> None:
    monkeypatch.setenv("PYTHONPATH", ".")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    env = runner.kernel_env()
    entries = env["PYTHONPATH"].split(__import__("os").pathsep)
    assert entries[0] == str(REPO_ROOT)
    assert all(Path(e).is_absolute() for e in entries)
    assert "MPLBACKEND" not in env
