"""Stage 6, `trace` and the cache: record on the first call (per shape of inputs), replay on later calls.

A `Trace` keeps up to ``cache_size`` recordings, one per shape of inputs,
each compiled into a program (`program.Program`). A call whose program's
guards all hold replays it; one whose guards fail records afresh (python
backend) or runs the batch in eager mode (numpy backend), and counts in
``retraces``.
"""

from __future__ import annotations

from collections import OrderedDict
from numbers import Integral
from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy as np

from ..engine import Value
from .errors import ReplayError, Retrace
from .numpy_program import Unsupported, numpy_program
from .program import Program
from .python_program import PythonProgram, python_program
from .recording import Recorder, Recording, flat, listening, read, record, wrap

Entry = Tuple[Program, Optional[PythonProgram]]  # the step's program, and the penalty's (numpy backend)


class Trace:
    """A traced step: call it like the function; it adds d loss/d p to every ``p.grad`` and returns the loss."""

    def __init__(self, loss_fn: Callable[..., Value], params: Sequence[Value], backend: str,
                 penalty: Optional[Callable[[], Value]], cache_size: int) -> None:
        _check_arguments(loss_fn, params, backend, penalty, cache_size)
        self.params = list(params)
        self.loss_fn = loss_fn
        self.backend = backend
        self.penalty = penalty
        self.cache_size: int = int(cache_size)
        self.retraces: int = 0
        self.records: int = 0
        self.graph: Optional[Value] = None  # the last recorded graph, to draw it
        self._cache: "OrderedDict[Any, Entry]" = OrderedDict()
        self._latest: Optional[Entry] = None  # the programs the latest call used

    @property
    def source(self) -> Optional[str]:
        """The generated code the latest call ran (with penalty=, the batch's then the penalty's); None before."""
        if self._latest is None:
            return None
        return "".join(program.source for program in self._latest if program is not None)

    def __repr__(self) -> str:
        program = self._latest[0] if self._latest is not None else None
        lines = None if self._latest is None else sum(p.lines for p in self._latest if p is not None)
        repeats = getattr(program, "repeats", None) if self.backend == "python" else None
        groups = getattr(program, "n_groups", None)
        return (f"Trace(backend={self.backend!r}, records={self.records}, retraces={self.retraces}, "
                f"cached={len(self._cache)}, lines={lines}, repeats={repeats}, groups={groups})")

    def __call__(self, *inputs: Any) -> float:
        if self.backend == "numpy":
            return self._call_batched(*inputs)
        numbers: List[Any] = []
        indices: List[int] = []
        key = read(inputs, numbers, indices)
        entry = self._cache.get(key)
        drawn: List[List[float]] = []
        if entry is not None:
            program = entry[0]
            try:
                if program.replayed.modes_changed() or any(indices[s] != program.recorded_indices[s]
                                                           for s in program.guarded_indices):
                    raise Retrace
                drawn = program.replayed.draw()
                loss, totals = program.run([p.data for p in self.params], numbers + flat(drawn), indices, 1)
            except Retrace:
                self.retraces += 1
            else:
                self._cache.move_to_end(key)
                self._latest = entry
                self._add_gradients(totals)
                return loss
        return self._record(key, inputs, drawn)

    def _record(self, key: Any, inputs: Tuple[Any, ...], predrawn: List[List[float]]) -> float:
        """Record afresh (an eager step): compile the program, then write eager's gradients."""
        recording = record(self.loss_fn, inputs, self.params, predrawn)
        program = python_program(recording)
        self.records += 1
        self.graph = recording.loss
        recording.loss.backward()
        self._remember(key, (program, None))
        return recording.loss.data

    def _remember(self, key: Any, entry: Entry) -> None:
        self._cache[key] = entry
        self._latest = entry
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def _add_gradients(self, totals: List[Any]) -> None:
        for p, total in zip(self.params, totals):
            p.grad = p.grad + total

    # ---------------------------------------------------- the numpy backend
    def _call_batched(self, X: Any, T: Any) -> float:
        X, T = _check_batch(X, T)
        n = len(X)
        key = ("batched", X.shape[1:], X.dtype.kind, T.shape[1:], T.dtype.kind)
        entry = self._cache.get(key)
        first_draws = None
        if entry is not None and any(p is not None and p.replayed.modes_changed() for p in entry):
            self.retraces += 1
            entry = None
        if entry is None:
            entry = self._record_batched(X[0], T[0])
            first_draws = entry[0].replayed.recorded_draws
            self._remember(key, entry)
        self._latest = entry
        columns, indices = _columns(X, T)
        # Random numbers drawn for this call (sample 0's by a recording) are used again if it runs eagerly.
        predrawn: List[List[float]] = list(first_draws or [])
        with np.errstate(all="ignore"):
            try:
                _check_outside_code(entry[0], indices)
                columns.extend(self._draw_batch(entry[0], n, first_draws, predrawn))
                loss, totals = self._run_batched(entry, columns, indices, n)
            except Retrace:
                self.retraces += 1
                return self._eager_batch(X, T, predrawn)
        self._add_gradients(totals)
        return loss

    def _record_batched(self, x: Any, t: Any) -> Entry:
        """One sample's recording, compiled to run over a batch; and the penalty's."""
        recording = record(self.loss_fn, (x, t), self.params)
        try:
            program: Program = numpy_program(recording)
        except Unsupported:  # a number numpy would round: the python backend's code, over arrays
            program = python_program(recording, batched=True)
        self.records += 1
        self.graph = recording.loss
        return program, self._record_penalty() if self.penalty is not None else None

    def _draw_batch(self, program: Program, n: int, first_draws: Optional[List[List[float]]],
                    predrawn: List[List[float]]) -> List[Any]:
        """Random numbers sample by sample, as eager draws them (the recording drew sample 0's): columns."""
        if not program.replayed.draws:
            return []
        drawn = []
        for i in range(n):
            sample = first_draws if first_draws is not None and i == 0 else program.replayed.draw()
            if sample is not first_draws:
                predrawn.extend(sample)
            drawn.append(flat(sample))
        return list(np.array(drawn, dtype=float).reshape(n, -1).T)

    def _run_batched(self, entry: Entry, columns: List[Any], indices: List[Any], n: int) -> Tuple[float, List[Any]]:
        program, pen_program = entry
        P = [p.data for p in self.params]
        scale = 1.0 / n
        losses, totals = program.run(P, columns, indices, scale, n)
        losses = np.broadcast_to(np.asarray(losses, dtype=float), (n,))
        data_loss = float(np.cumsum(losses)[-1]) * scale  # sequential, as Python's sum
        if pen_program is None:
            return data_loss, totals
        # eager visits the penalty last: its terms are added after the data's
        pen_value, totals = pen_program.run_from(totals, P, [], [], 1)
        return data_loss + pen_value, totals

    def _record_penalty(self) -> PythonProgram:
        """The penalty's program, its comparisons guarded like the loss's."""
        assert self.penalty is not None
        recorder = Recorder()
        pen = listening(recorder, self.penalty)
        if not isinstance(pen, Value):
            raise ReplayError(f"penalty() must return a Value, got {type(pen).__name__}")
        if recorder.draws or recorder.refused:
            raise ReplayError("penalty() draws random numbers or uses a layer in training mode; "
                              "put that part in the per-sample loss instead")
        recorder.check_guardable(self.params, [])
        return python_program(Recording(pen, self.params, [], [], recorder))

    def _eager_batch(self, X: np.ndarray, T: np.ndarray, predrawn: List[List[float]]) -> float:
        """The batch in eager mode, taking the random numbers this call has drawn already first."""
        recorder = Recorder(predrawn)  # it hands those out, then draws as eager mode does
        terms = listening(recorder, lambda: [self.loss_fn(*wrap([x, t], [], [], set())) for x, t in zip(X, T)])
        loss = _mean(terms)
        if self.penalty is not None:
            loss = loss + self.penalty()
        loss.backward()
        return loss.data


def _check_arguments(loss_fn: Any, params: Sequence[Any], backend: Any, penalty: Any, cache_size: Any) -> None:
    if not callable(loss_fn):
        raise TypeError(f"trace() needs a callable loss function, got {type(loss_fn).__name__}")
    if backend not in ("python", "numpy"):
        raise ValueError(f"backend must be 'python' or 'numpy', got {backend!r}")
    params = list(params)
    for j, p in enumerate(params):
        if not isinstance(p, Value):
            raise TypeError(f"params must be Values, got {type(p).__name__} at position {j}: {p!r}")
        if not p.is_leaf:
            raise ReplayError(f"params must be leaves (trainable Values), but position {j} is the result "
                              f"of {p.op!r}")
    if len({id(p) for p in params}) != len(params):
        raise ReplayError("a parameter is listed twice")
    if penalty is not None and backend != "numpy":
        raise ValueError("penalty= is for backend='numpy'; with backend='python' add it inside loss_fn")
    if isinstance(cache_size, bool) or not isinstance(cache_size, Integral):
        raise TypeError(f"cache_size must be an int (how many recordings to keep), got "
                        f"{type(cache_size).__name__}: {cache_size!r}")
    if cache_size < 1:
        raise ValueError(f"cache_size must be at least 1 (how many recordings to keep), got {cache_size}")


def _check_outside_code(program: Program, indices: List[Any]) -> None:
    """The guards that are not in the program's code, over a batch: layer modes and guarded integer inputs."""
    if program.replayed.modes_changed() or any(not np.all(indices[s] == program.recorded_indices[s])
                                               for s in program.guarded_indices):
        raise Retrace


def _check_batch(X: Any, T: Any) -> Tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X)
    T = np.asarray(T)
    if len(X) != len(T) or len(X) == 0:
        raise ValueError(f"numpy replay needs equal, non-zero numbers of inputs and targets, "
                         f"got {len(X)} and {len(T)}")
    if X.dtype.kind in "iu":
        raise ReplayError("numpy replay needs float inputs X (integer targets are fine)")
    return X, T


def _columns(X: np.ndarray, T: np.ndarray) -> Tuple[List[Any], List[Any]]:
    """The batch as columns: one array per input number (X's, then T's if floats), one per integer target."""
    n = len(X)
    flat_x, flat_t = X.reshape(n, -1), T.reshape(n, -1)
    columns: List[Any] = [flat_x[:, j].astype(float) for j in range(flat_x.shape[1])]
    indices: List[Any] = []
    if T.dtype.kind in "iu":
        indices.extend(flat_t[:, j].astype(int) for j in range(flat_t.shape[1]))
    else:
        columns.extend(flat_t[:, j].astype(float) for j in range(flat_t.shape[1]))
    return columns, indices


def _mean(terms: List[Value]) -> Value:
    total: Any = 0
    for term in terms:  # as Python's sum does: 0 + t0 + t1 + ...
        total = total + term
    return total * (1.0 / len(terms))


def trace(loss_fn: Callable[..., Value], params: Sequence[Value], backend: str = "python",
          penalty: Optional[Callable[[], Value]] = None, cache_size: int = 8) -> Trace:
    """Record ``loss_fn``'s graph on the first call, replay it on later calls (see `microgradcn.replay`).

    ``step = trace(loss_fn, params)``; ``step(*inputs)`` does what
    ``loss = loss_fn(*inputs); loss.backward()`` does and returns ``loss.data``.
    With ``backend="numpy"``, `loss_fn` is a per-sample loss ``f(x, t)`` and
    ``step(X, T)`` is ``(sum(f(x, t) for x, t in zip(X, T)) * (1 / len(X))
    + penalty()).backward()``.
    """
    return Trace(loss_fn, params, backend, penalty, cache_size)
