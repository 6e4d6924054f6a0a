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


def test_normalise_drops_memory_addresses_from_reprs() -> None:
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("g", execution_count=1)
    code.outputs = [nbformat.v4.new_output(
        "execute_result", execution_count=1,
        data={"image/svg+xml": "<svg/>", "text/plain": "<graphviz.graphs.Digraph at 0x7f24d1780a10>"},
    )]
    nb.cells = [code]
    data = runner.normalise(nb).cells[0].outputs[0]["data"]
    assert data["text/plain"] == "<graphviz.graphs.Digraph>" and data["image/svg+xml"] == "<svg/>"


def test_kernel_env_makes_pythonpath_absolute(monkeypatch) -> None:
    monkeypatch.setenv("PYTHONPATH", ".")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    env = runner.kernel_env()
    entries = env["PYTHONPATH"].split(__import__("os").pathsep)
    assert entries[0] == str(REPO_ROOT)
    assert all(Path(e).is_absolute() for e in entries)
    assert "MPLBACKEND" not in env


def _notebook_with_torch_cell() -> "nbformat.NotebookNode":
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": runner.KERNELSPEC})
    cell = nbformat.v4.new_code_cell("print('torch')", execution_count=3, metadata={"tags": [runner.TORCH_TAG]})
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="torch\n")]
    nb.cells = [cell]
    return nb


def test_run_keeps_a_torch_notebook_unchanged_when_torch_is_missing(tmp_path, monkeypatch) -> None:
    path = tmp_path / "torch_notebook.ipynb"
    nbformat.write(_notebook_with_torch_cell(), path)
    committed = path.read_bytes()
    executed = []
    monkeypatch.setattr(runner, "execute", lambda nb, cwd, timeout=0: executed.append(nb) or nb)
    monkeypatch.setattr(runner, "torch_available", lambda: False)
    seconds, saved = runner.run(path)
    assert executed and not saved and path.read_bytes() == committed  # ran (errors would show), not written
    monkeypatch.setattr(runner, "torch_available", lambda: True)
    seconds, saved = runner.run(path)
    assert saved and path.read_bytes() != committed  # written, normalised (execution count 3 became 1)
    assert nbformat.read(path, as_version=4).cells[0].execution_count == 1


def test_torch_available_tries_the_import_in_the_kernel_environment(tmp_path, monkeypatch) -> None:
    stub = tmp_path / "torch.py"
    stub.write_text("raise ImportError('no torch here')\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    assert runner.torch_available() is False  # found on the path, but the import fails: counts as missing


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NOTEBOOK_IDS)
def test_cells_that_use_torch_are_tagged(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    untagged = [cell.id for cell in nb.cells if cell.cell_type == "code"
                and re.search(r"\btorch\b", cell.source) and runner.TORCH_TAG not in cell.metadata.get("tags", [])]
    assert not untagged, f"{path.name}: cells {untagged} use torch; tag them {runner.TORCH_TAG!r}"


def _intro_items_and_headings(nb) -> tuple:
    intro = next(c.source for c in nb.cells if c.cell_type == "markdown")
    items = [int(n) for n in re.findall(r"^(\d+)\. ", intro, re.M)]
    markdown = [c.source for c in nb.cells if c.cell_type == "markdown"]
    headings = [int(n) for source in markdown for n in re.findall(r"^## (\d+)\. ", source, re.M)]
    return items, headings


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NOTEBOOK_IDS)
def test_intro_list_matches_the_numbered_headings(path: Path) -> None:
    items, headings = _intro_items_and_headings(nbformat.read(path, as_version=4))
    assert headings == list(range(1, len(headings) + 1)), f"{path.name}: headings numbered {headings}"
    if items:  # a notebook whose intro has a numbered list: one item per numbered section
        assert items == headings, f"{path.name}: intro lists {items}, headings are {headings}"
