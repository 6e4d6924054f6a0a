"""Stage 5c, forward-only programs (evaluation): several outputs, no backward pass.

Evaluating a model runs its forward pass on every sample, in eval mode, and
keeps a few numbers of each (the logits and the loss). A forward-only
program is written from one sample's recording by the same emitters as a
training step's, with their backward stage left out, and returns every
output (see `program.Program`: ``run`` gives the outputs and no totals):

* `NumpyForward`: the numpy backend's groups over the whole batch at once,
  one array per output;
* `PythonForward`: the python backend's straight-line code, for one sample
  per call (``backend="python"``, and the numpy backend's fallback when a
  number of the graph is not a float, which numpy would round).

Both compute each node with the op table's rule on the same numbers as eager
mode, so every output equals eager mode's, bit for bit.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Set, Tuple

import numpy as np

from ..engine import Value
from .code import NUMPY_ARITHMETIC, Names, compile_function, forward_lines
from .graph import count_uses, decision_nodes, forward_order
from .guards import RUNTIME
from .numpy_program import NumpyEmitter, Unsupported, _choose_rows, _is_float_exact
from .python_program import PythonEmitter, _choose, _pick
from .recording import Recording, Replayed


def _nodes_of(outputs: List[Value]) -> List[Value]:
    """Every node below the outputs, inputs first, each once."""
    seen: Set[Value] = set()
    nodes: List[Value] = []
    for out in outputs:
        nodes.extend(forward_order(out, seen))
    return nodes


class NumpyForward:
    """A compiled forward pass of the numpy backend: ``run`` gives each output over the batch (no totals)."""

    def __init__(self, function: Callable[..., Any], source: str, emitter: "_NumpyForwardEmitter") -> None:
        self.function, self.source, self.lines = function, source, emitter.n_lines
        self.consts, self.funcs, self.index_arrays = emitter.consts, emitter.funcs, emitter.index_arrays
        self.guarded_indices, self.recorded_indices = emitter.guarded_indices, emitter.recorded_indices
        self.replayed = Replayed(emitter.recording.recorder)
        self.param_order = emitter.param_order
        self.n_groups = len(emitter.groups)

    def run(self, P: List[Any], X: List[Any], ids: List[Any], seed: Any = None,
            n: int = 0) -> Tuple[Any, List[Any]]:
        """The outputs over the batch (a tuple of arrays of length n); no totals: nothing flows backward."""
        params = np.asarray(P, dtype=float)
        if self.param_order is not None:
            params = params[self.param_order][:, None]
        outs = self.function(params, X, ids, self.consts, self.funcs, self.index_arrays)
        return tuple(np.broadcast_to(np.asarray(o, dtype=float), (n,)) for o in outs), []


class _NumpyForwardEmitter(NumpyEmitter):
    """The numpy emitter's leaves, groups, forward and guards, for several outputs; no backward."""

    def __init__(self, recording: Recording, outputs: List[Value]) -> None:  # (not NumpyEmitter's: no loss)
        self.recording, self.outputs = recording, outputs
        nodes = _nodes_of(outputs)
        self.nodes = nodes + decision_nodes(recording.recorder, nodes)  # compared Values too, to be guarded
        self.param_slot = {id(p): j for j, p in enumerate(recording.params)}
        self.number_slot = {id(v): j for j, v in enumerate(recording.numbers)}
        for j, p in enumerate(recording.params):
            if not _is_float_exact(p.data):
                raise Unsupported(f"parameter {j} is {p.data!r}")
        self.processed: Set[int] = set()  # no backward: no group's backward runs
        self.leads: Set[int] = set()
        self._group_nodes()
        self.consts: List[Any] = []
        self.funcs: List[Callable] = []
        self.index_arrays: List[np.ndarray] = []
        self.operands: Dict[Tuple[int, int], str] = {}
        self.picks: Dict[int, str] = {}

    def emit(self) -> NumpyForward:  # type: ignore[override]
        rows = []
        for out in self.outputs:
            group, i = self.where[id(out)]
            rows.append(f"{group.name}[{i}]")
        lines = self.leaves() + self.forward() + self.guards() + [f"return ({', '.join(rows)},)"]
        self.n_lines = len(lines)
        namespace: Dict[str, Any] = dict(RUNTIME, **NUMPY_ARITHMETIC, _np=np, _choose_rows=_choose_rows)
        function, source = compile_function("P, X, I, K, F, S", lines, namespace, "<microgradcn forward replay>")
        return NumpyForward(function, source, self)


class PythonForward:
    """A compiled forward pass of the python backend: ``run`` gives one sample's outputs (no totals)."""

    def __init__(self, function: Callable[..., Any], source: str, emitter: "_PythonForwardEmitter") -> None:
        self.function, self.source, self.lines = function, source, emitter.n_lines
        self.consts = emitter.consts
        self.guarded_indices, self.recorded_indices = emitter.guarded_indices, emitter.recorded_indices
        self.replayed = Replayed(emitter.recording.recorder)

    def run(self, P: List[Any], X: List[Any], ids: List[Any], seed: Any = None,
            n: int = 0) -> Tuple[Any, List[Any]]:
        """One sample's outputs (a tuple of numbers); no totals."""
        return self.function(P, X, ids, self.consts), []


class _PythonForwardEmitter(PythonEmitter):
    """The python emitter's leaves, forward and guards, for several outputs; no backward."""

    def __init__(self, recording: Recording, outputs: List[Value]) -> None:  # (not PythonEmitter's: no loss)
        self.recording, self.batched, self.outputs = recording, False, outputs
        self.nodes = _nodes_of(outputs)
        self.name = Names("v")
        self.param_slot = {p: j for j, p in enumerate(recording.params)}
        self.number_slot = {v: j for j, v in enumerate(recording.numbers)}
        self.consts: List[Any] = []
        self.funcs: List[Callable] = []
        self._func_names: Dict[Tuple[int, bool], str] = {}
        self.needed = set(outputs)
        self.data_selected: Set[int] = set()
        self.fixed_slots: Set[int] = set()
        self.uses = count_uses(self.nodes)
        self.extra = decision_nodes(recording.recorder, self.nodes)
        self.fixed: Set[Value] = set()  # nothing flows backward, so no label can change an order
        self.repeats, self.member_of, self.passed = [], {}, []

    def emit(self) -> PythonForward:  # type: ignore[override]
        leaf_lines = self.leaves()
        interior, _, raw = self.forward()
        guard_lines = self.guards()
        names = "".join(f"{self.name[out]}, " for out in self.outputs)
        lines = leaf_lines + forward_lines(interior, self.name, self.needed, raw) + guard_lines + [f"return ({names})"]
        self.n_lines = len(lines)
        namespace: Dict[str, Any] = dict(RUNTIME, _choose=_choose, _where=np.where, _pick=_pick)
        namespace.update((f"_f{i}", f) for i, f in enumerate(self.funcs))
        function, source = compile_function("P, X, I, K", lines, namespace, "<microgradcn forward replay>")
        return PythonForward(function, source, self)


def forward_program(recording: Recording, outputs: List[Value], backend: str) -> Any:
    """The forward-only program of `outputs` (one sample's recording): numpy's groups, or python's lines.

    ``backend="numpy"`` falls back to the python program when a number is not a float (`Unsupported`).
    """
    if backend == "numpy":
        try:
            return _NumpyForwardEmitter(recording, outputs).emit()
        except Unsupported:
            pass
    return _PythonForwardEmitter(recording, outputs).emit()
