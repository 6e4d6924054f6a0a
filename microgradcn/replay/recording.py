"""Stage 1, recording: run the step function once, eagerly, and hear what a graph does not show.

The graph records the arithmetic. What it cannot record, the tracer
(`modes.tracer`) hears while the function runs: every decision taken on a
Value's number (a comparison, ``float()``), random numbers drawn through
`modes.random_numbers`, the training/eval mode of layers that act
differently in the two, and integer inputs used as plain numbers.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy as np

from .. import modes
from ..engine import Value
from .errors import ReplayError, Retrace


class Index(int):
    """An integer input while recording: remembers which input slot it came from."""

    slot: int

    def __new__(cls, value: int, slot: int) -> "Index":
        obj = super().__new__(cls, value)
        obj.slot = slot
        return obj


class Recorder:
    """Hears, while a step is recorded, about decisions taken on data, random draws and layer modes (modes.py)."""

    def __init__(self, predrawn: Optional[List[List[float]]] = None) -> None:
        self.decisions: List[Tuple[Any, Any, Any, str]] = []
        self.index_used_as_number: List[int] = []
        self.draws: List[Tuple[Callable[[], List[float]], List[Value]]] = []
        self.layers: List[Tuple[Any, bool]] = []
        self.refused: List[Any] = []
        self.without_grad: List[Tuple[Any, Any]] = []  # decisions taken inside no_grad
        self._predrawn = list(predrawn or [])

    def random_numbers(self, draw: Callable[[], List[float]]) -> List[Value]:
        numbers = self._predrawn.pop(0) if self._predrawn else list(draw())
        leaves = [Value(x) for x in numbers]
        self.draws.append((draw, leaves))
        return leaves

    def layer_mode(self, layer: Any, training: bool, replayable: bool) -> None:
        self.layers.append((layer, training))
        if not replayable:
            self.refused.append(layer)

    def decision(self, value: Value, other: Any, result: Any, how: str) -> None:
        self.decisions.append((value, other, result, how))
        if not modes.is_grad_enabled():
            self.without_grad.append((value, other))

    def number(self, x: Any) -> None:
        if isinstance(x, Index):
            self.index_used_as_number.append(x.slot)

    def check_guardable(self, params: Sequence[Value], numbers: Sequence[Value]) -> None:
        """Refuse a comparison, inside `no_grad`, of a Value the recording knows only as a number.

        Inside `no_grad` an op makes a plain leaf, so a Value compared there may
        be computed from the inputs and yet look like a constant: no guard could
        see its number change.
        """
        known = {id(v) for v in list(params) + list(numbers)}
        for pair in self.without_grad:
            for v in pair:
                if isinstance(v, Value) and v.is_leaf and id(v) not in known:
                    raise ReplayError(
                        f"the traced function compares {v!r} inside no_grad(); a Value made there is a leaf whose "
                        "number the recording cannot follow, so the comparison cannot be guarded. Compare outside "
                        "no_grad(), or run this step in eager mode.")

    def check_replayable(self) -> None:
        """Refuse a layer whose training mode has a side effect a replayed step would skip."""
        if self.refused:
            raise ReplayError(
                f"the traced function uses {self.refused[0]!r} in training mode, which updates its running "
                "statistics as a side effect that a replayed step would skip, so it is not traced. Train this "
                "model in eager mode, or switch that layer to eval mode.")


def listening(recorder: Recorder, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` with `recorder` as the tracer: it hears what the graph does not show."""
    modes.tracer = recorder
    try:
        return fn(*args)
    finally:
        modes.tracer = None


class Recording:
    """One recorded step: its loss node, parameters, input leaves, integer inputs and what the tracer heard."""

    def __init__(self, loss: Value, params: List[Value], numbers: List[Value], indices: List[Index],
                 recorder: Recorder) -> None:
        self.loss, self.params, self.numbers, self.indices, self.recorder = loss, params, numbers, indices, recorder


def record(fn: Callable[..., Any], inputs: Sequence[Any], params: List[Value],
           predrawn: Optional[List[List[float]]] = None, what: str = "the traced function") -> Recording:
    """Run `fn` on `inputs` (as input leaves and traced indices) while listening; check it can be replayed.

    Random numbers already drawn for a replay that then had to record afresh
    (`predrawn`) are handed out first, not drawn again.
    """
    numbers: List[Value] = []
    indices: List[Index] = []
    wrapped = wrap(list(inputs), numbers, indices, {id(p) for p in params})
    recorder = Recorder(predrawn)
    loss = listening(recorder, fn, *wrapped)
    if not isinstance(loss, Value):
        raise ReplayError(f"{what} must return a scalar Value, got {type(loss).__name__}: {loss!r}")
    recorder.check_replayable()
    numbers += [leaf for _, leaves in recorder.draws for leaf in leaves]  # random numbers: inputs too
    recorder.check_guardable(params, numbers)
    return Recording(loss, params, numbers, indices, recorder)


class Replayed:
    """What a program checks and redraws outside its code: the random draws and the layers' modes.

    Both programs keep one (see `program.Program`).
    """

    def __init__(self, recorder: Recorder) -> None:
        self.draws = [(draw, len(leaves)) for draw, leaves in recorder.draws]
        self.recorded_draws = [[leaf.data for leaf in leaves] for _, leaves in recorder.draws]
        self.layers = list(recorder.layers)

    def modes_changed(self) -> bool:
        """True if a layer has left the training/eval mode it was recorded in."""
        return any(layer.training != training for layer, training in self.layers)

    def draw(self) -> List[List[float]]:
        """New random numbers for one run (one sample), drawn in eager mode's order."""
        drawn = [list(draw()) for draw, _ in self.draws]
        if [len(d) for d in drawn] != [count for _, count in self.draws]:
            raise Retrace
        return drawn


# ----------------------------------------------------------- inputs
def wrap(x: Any, numbers: List[Value], indices: List[Index], params: set) -> Any:
    """Inputs as the recorded function sees them: floats -> input leaves, ints -> traced indices."""
    if isinstance(x, np.ndarray):
        x = x.tolist()
    if isinstance(x, (list, tuple)):
        items = [wrap(item, numbers, indices, params) for item in x]
        return items if isinstance(x, list) else tuple(items)
    if isinstance(x, Value):
        if id(x) in params:
            raise ReplayError("a parameter was passed as an input; pass parameters to trace(..., params) only")
        leaf = Value(x.data)
        numbers.append(leaf)
        return leaf
    if isinstance(x, (Integral, np.integer)) and not isinstance(x, (bool, np.bool_)):
        index = Index(int(x), len(indices))
        indices.append(index)
        return index
    if isinstance(x, (float, np.floating)):
        leaf = Value(float(x))
        numbers.append(leaf)
        return leaf
    return x  # anything else (None, strings, modules) is passed through and must not change


def read(x: Any, numbers: List[Any], indices: List[int]) -> Any:
    """The numbers and integers of new inputs, in the order `wrap` saw them; returns the shape key."""
    if isinstance(x, np.ndarray):
        if x.dtype.kind in "iu":
            indices.extend(x.ravel().tolist())
            return ("i", x.shape)
        numbers.extend(x.astype(float).ravel().tolist())
        return ("f", x.shape)
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, tuple(read(item, numbers, indices) for item in x))
    if isinstance(x, Value):
        numbers.append(x.data)
        return "v"
    if isinstance(x, (Integral, np.integer)) and not isinstance(x, (bool, np.bool_)):
        indices.append(int(x))
        return "i"
    if isinstance(x, (float, np.floating)):
        numbers.append(float(x))
        return "f"
    return ("o", id(x))


def flat(drawn: List[List[float]]) -> List[float]:
    return [x for numbers in drawn for x in numbers]
