#!/usr/bin/env python
"""Execute the notebooks in place and save them with outputs but without execution noise.

    python scripts/run_notebooks.py                      # every notebooks/*.ipynb
    python scripts/run_notebooks.py notebooks/05_*.ipynb # just these
    python scripts/run_notebooks.py --check              # only verify the committed files are normalised

Each notebook runs top to bottom in a fresh kernel (cwd = notebooks/) that imports
microgradcn from this checkout. The saved file is *normalised* so that running the
script twice gives no diff wherever the outputs themselves are deterministic:

* execution counts are renumbered 1, 2, 3, ... (as if run once from the top);
* cell ids become ``cell-01``, ``cell-02``, ... (Jupyter makes random ones);
* cell metadata keeps only ``tags`` and ``jupyter`` (hidden inputs), notebook
  metadata only the kernelspec and the language name;
* consecutive stream outputs are merged (the kernel splits them by timing);
* memory addresses are dropped from plain-text reprs (``<graphviz.graphs.Digraph
  at 0x7f...>`` becomes ``<graphviz.graphs.Digraph>``), so displayed graphs diff clean.

A notebook with code cells tagged ``requires-torch`` (optional PyTorch sections)
is executed but *not saved* when the kernel cannot import torch: its committed
torch outputs would otherwise be replaced by "PyTorch is not installed" messages.

Notebook authors still have to make their outputs deterministic: seed every
random generator, and start with the common first cell (see notebooks/README.md),
which among other things drops the matplotlib version from saved PNGs.
`tests/test_notebooks.py` executes every notebook and checks the committed files
are normalised (`normalise(nb) == nb`).
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterable, List, Optional, Tuple

import nbformat

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
CELL_TIMEOUT = 120  # seconds; the whole notebook should need well under a minute
KEPT_CELL_METADATA = ("tags", "jupyter")
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}
TORCH_TAG = "requires-torch"  # cell tag: this cell's outputs need PyTorch


def notebook_paths(selection: Iterable[str] = ()) -> List[Path]:
    """The given notebooks, or every ``notebooks/*.ipynb`` in name order."""
    chosen = [Path(p).resolve() for p in selection]
    return chosen or sorted(NOTEBOOK_DIR.glob("*.ipynb"))


def kernel_env() -> dict:
    """Environment for the kernel: this checkout first on sys.path, stable hashing, inline plots.

    PYTHONPATH entries are made absolute because the kernel runs in notebooks/,
    where ``PYTHONPATH=.`` would point to the wrong directory.
    """
    env = dict(os.environ)
    entries = [str(REPO_ROOT)]
    for entry in env.get("PYTHONPATH", "").split(os.pathsep):
        if entry:
            entries.append(str(Path(entry).resolve()))
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(entries))
    env["PYTHONHASHSEED"] = "0"
    env.pop("MPLBACKEND", None)  # an inherited "Agg" would stop plots from being saved
    return env


def needs_torch(nb: nbformat.NotebookNode) -> bool:
    """Whether any cell of `nb` is tagged `TORCH_TAG`."""
    return any(TORCH_TAG in cell.get("metadata", {}).get("tags", []) for cell in nb.cells)


def torch_available() -> bool:
    """Whether the kernel (this interpreter, with `kernel_env`) can import torch.

    The import is really tried, in a subprocess: a stub or broken install that
    the notebook's ``import torch`` would reject counts as missing.
    """
    probe = subprocess.run([sys.executable, "-c", "import torch"], env=kernel_env(), capture_output=True)
    return probe.returncode == 0


def execute(nb: nbformat.NotebookNode, cwd: Path, timeout: int = CELL_TIMEOUT) -> nbformat.NotebookNode:
    """Run every cell of `nb` in a fresh kernel; raises nbclient's CellExecutionError on an error."""
    from nbclient import NotebookClient

    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(cwd)}},
        record_timing=False,
        coalesce_streams=True,
    )
    client.execute(env=kernel_env())
    return nb


def _merge_streams(outputs: list) -> list:
    merged: list = []
    for out in outputs:
        previous = merged[-1] if merged else None
        if (
            out.get("output_type") == "stream"
            and previous is not None
            and previous.get("output_type") == "stream"
            and previous.get("name") == out.get("name")
        ):
            previous["text"] = previous["text"] + out["text"]
        else:
            merged.append(out)
    return merged


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+>")


def _drop_addresses(output) -> None:
    """Remove ``at 0x...`` from a rich output's text/plain (it changes on every run)."""
    data = output.get("data")
    if data and isinstance(data.get("text/plain"), str):
        data["text/plain"] = _ADDRESS.sub(">", data["text/plain"])


def normalise(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of `nb` without execution noise (see the module docstring)."""
    nb = copy.deepcopy(nb)
    language = nb.metadata.get("language_info", {}).get("name", "python")
    nb.metadata = nbformat.from_dict({"kernelspec": KERNELSPEC, "language_info": {"name": language}})
    nb.nbformat, nb.nbformat_minor = 4, 5
    count = 0
    for index, cell in enumerate(nb.cells, start=1):
        cell.id = f"cell-{index:02d}"
        cell.metadata = nbformat.from_dict({k: cell.metadata[k] for k in KEPT_CELL_METADATA if k in cell.metadata})
        if cell.cell_type != "code":
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
            continue
        executed = cell.get("execution_count") is not None
        if executed:
            count += 1
        cell.execution_count = count if executed else None
        cell.outputs = _merge_streams(cell.get("outputs", []))
        for out in cell.outputs:
            if out.get("output_type") == "execute_result":
                out["execution_count"] = cell.execution_count
            _drop_addresses(out)
    return nb


def run(path: Path, timeout: int = CELL_TIMEOUT) -> Tuple[float, bool]:
    """Execute the notebook at `path` and save it normalised; return (run time in seconds, saved).

    A notebook that `needs_torch` is executed but not saved when torch cannot
    be imported, so that its committed torch outputs are kept.
    """
    nb = nbformat.read(path, as_version=4)
    keep_committed = needs_torch(nb) and not torch_available()
    start = time.perf_counter()
    execute(nb, path.parent, timeout)
    seconds = time.perf_counter() - start
    if not keep_committed:
        nbformat.write(normalise(nb), path)
    return seconds, not keep_committed


def problems(path: Path) -> Optional[str]:
    """Why the committed notebook at `path` is not clean, or None if it is."""
    nb = nbformat.read(path, as_version=4)
    unexecuted = [i for i, c in enumerate(nb.cells, 1) if c.cell_type == "code" and c.execution_count is None]
    if unexecuted:
        return f"code cells {unexecuted} have no outputs saved; run scripts/run_notebooks.py"
    if normalise(nb) != nb:
        return "has execution noise (counts, ids or metadata); run scripts/run_notebooks.py"
    return None


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="notebook files (default: notebooks/*.ipynb)")
    parser.add_argument("--check", action="store_true", help="only check the saved files, run nothing")
    parser.add_argument("--timeout", type=int, default=CELL_TIMEOUT, help="seconds allowed per cell")
    args = parser.parse_args(argv)
    paths = notebook_paths(args.notebooks)
    failed = 0
    for path in paths:
        name = path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path
        if args.check:
            problem = problems(path)
            print(f"{name}: {problem or 'ok'}")
        else:
            try:
                seconds, saved = run(path, args.timeout)
                note = "" if saved else (f"; ran, but NOT saved: its cells tagged {TORCH_TAG!r} need PyTorch, "
                                         "which the kernel cannot import (the committed outputs are kept)")
                print(f"{name}: {seconds:.1f} s{note}", flush=True)
                problem = None
            except Exception as error:  # report every notebook, then fail
                problem = str(error)
                print(f"{name}: FAILED\n{problem}", flush=True)
        failed += problem is not None
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
