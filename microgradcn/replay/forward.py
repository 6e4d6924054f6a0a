"""Stage 6b, `trace_forward`: a forward pass recorded once, then run over whole batches (evaluation).

``forward = trace_forward(fn, params)``; ``forward(X, T)`` returns, for every
sample ``(x, t)`` of the batch, the numbers of the Values ``fn(x, t)``
returns (say a model's logits and the sample's loss), equal bit for bit to
``[v.data for v in fn(x, t)]`` computed eagerly under `no_grad`. The first
call per shape of inputs records ``fn`` on the first sample and compiles a
forward-only program (`forward_program`); later calls only run it.

What a training step's trace checks is checked here too: decisions taken on
data (``x > 0``, ``float(x)``: every sample must take the recorded one),
integer inputs used other than through `select`, and the layers'
training/eval modes. A batch for which a check fails runs eagerly, sample by
sample (and ``retraces`` counts it), as does a model that draws random
numbers while evaluated (Dropout in training mode): the numbers are the same
either way.
"""

from __future__ import annotations

from typing import Any, Callable, List, Sequence, Tuple

import numpy as np

from ..engine import Value, no_grad
from .errors import ReplayError, Retrace
from .forward_program import forward_program
from .recording import Recorder, Recording, listening, wrap
from .trace import _columns

Rows = List[Tuple[Any, ...]]  # per sample, the numbers of fn's outputs


class ForwardTrace:
    """A traced forward pass: ``forward(X, T)`` -> each sample's output numbers (see `trace_forward`)."""

    def __init__(self, fn: Callable[..., Sequence[Value]], params: Sequence[Value], backend: str) -> None:
        if not callable(fn):
            raise TypeError(f"trace_forward() needs a callable, got {type(fn).__name__}")
        if backend not in ("python", "numpy"):
            raise ValueError(f"backend must be 'python' or 'numpy', got {backend!r}")
        for j, p in enumerate(params):
            if not isinstance(p, Value):
                raise TypeError(f"params must be Values, got {type(p).__name__} at position {j}: {p!r}")
        self.fn, self.params, self.backend = fn, list(params), backend
        self.records = self.retraces = self.eager_batches = 0
        self._programs: dict = {}

    def __repr__(self) -> str:
        return (f"ForwardTrace(backend={self.backend!r}, records={self.records}, retraces={self.retraces}, "
                f"eager_batches={self.eager_batches})")

    def __call__(self, X: Any, T: Any) -> Rows:
        X, T = check_batch(X, T)
        key = (X.shape[1:], X.dtype.kind, T.shape[1:], T.dtype.kind)
        if key not in self._programs:
            program, first = self._record(X[0], T[0])
            self._programs[key] = program
            if program is None:  # it drew random numbers: the recording was sample 0's eager pass
                return [first] + (self._eager(X[1:], T[1:]) if len(X) > 1 else [])
        program = self._programs[key]
        if program is None:  # it draws random numbers: eager only
            return self._eager(X, T)
        columns, indices = _columns(X, T)
        P = [p.data for p in self.params]
        try:
            if program.replayed.modes_changed() or any(not np.all(indices[s] == program.recorded_indices[s])
                                                       for s in program.guarded_indices):
                raise Retrace
            with np.errstate(all="ignore"):
                return self._run(program, P, columns, indices, len(X))
        except Retrace:
            self.retraces += 1
            return self._eager(X, T)

    def _run(self, program: Any, P: List[Any], columns: List[Any], indices: List[Any], n: int) -> Rows:
        if hasattr(program, "index_arrays"):  # the numpy program: the whole batch at once
            outputs, _ = program.run(P, columns, indices, None, n)
            return list(zip(*(o.tolist() for o in outputs)))
        rows_x = np.array(columns, dtype=float).T.tolist() if columns else [[] for _ in range(n)]
        rows_i = np.array(indices, dtype=int).T.tolist() if indices else [[] for _ in range(n)]
        return [tuple(program.run(P, x, i)[0]) for x, i in zip(rows_x, rows_i)]

    def _record(self, x: Any, t: Any) -> Tuple[Any, Tuple[Any, ...]]:
        """One sample's forward, recorded (grad on, to build the graph): (its program or None, its outputs).

        None: it drew random numbers, used a layer whose training mode has a side effect (a recorded
        pass would not redo either), or compared inside `no_grad` a Value made there (no guard could
        follow it); such batches run eagerly.
        """
        numbers: List[Value] = []
        indices: List[Any] = []
        wrapped = wrap([x, t], numbers, indices, {id(p) for p in self.params})
        recorder = Recorder()
        outputs = list(listening(recorder, self.fn, *wrapped))
        for k, out in enumerate(outputs):
            if not isinstance(out, Value):
                raise ReplayError(f"the traced function must return Values, got {type(out).__name__} "
                                  f"at position {k}: {out!r}")
        self.records += 1
        first = tuple(v.data for v in outputs)
        if recorder.draws or recorder.refused:
            return None, first
        try:
            recorder.check_guardable(self.params, numbers)
        except ReplayError:  # a comparison no guard could follow: eager passes compute it anew every time
            return None, first
        recording = Recording(outputs[-1], self.params, numbers, indices, recorder)
        return forward_program(recording, outputs, self.backend), first

    def _eager(self, X: np.ndarray, T: np.ndarray) -> Rows:
        """The batch in eager mode, sample by sample, without a graph."""
        self.eager_batches += 1
        with no_grad():
            return [tuple(v.data for v in self.fn(x, t)) for x, t in zip(X, T)]


def check_batch(X: Any, T: Any) -> Tuple[np.ndarray, np.ndarray]:
    """X and T as arrays; a ValueError or TypeError naming what is wrong with them."""
    try:
        X, T = np.asarray(X), np.asarray(T)
    except ValueError:
        raise ValueError("the inputs X must be rows of the same shape (a rectangular array of numbers)") from None
    if X.dtype == object or T.dtype == object:
        raise ValueError("the inputs X and targets T must be rows of the same shape (a rectangular array of numbers)")
    if X.ndim == 0 or T.ndim == 0 or len(X) != len(T) or len(X) == 0:
        raise ValueError(f"a forward replay needs equal, non-zero numbers of inputs and targets, got "
                         f"{X.shape[:1] or 'a scalar'} and {T.shape[:1] or 'a scalar'}")
    if X.dtype.kind not in "f":
        raise TypeError(f"the inputs X must be floats, got an array of {X.dtype} (integer ids go in T)")
    return X, T


def trace_forward(fn: Callable[..., Sequence[Value]], params: Sequence[Value],
                  backend: str = "numpy") -> ForwardTrace:
    """Record ``fn(x, t)``'s forward pass once, then run it over whole batches (see `microgradcn.replay.forward`).

    `fn` returns a list of Values (say ``model(x) + [loss_fn(model(x), t)]``); ``trace_forward(fn,
    params)(X, T)`` is ``[tuple(v.data for v in fn(x, t)) for x, t in zip(X, T)]`` under `no_grad`, bit
    for bit. `params` are the Values read as parameters (their current numbers are used at every call).
    """
    return ForwardTrace(fn, params, backend)
