"""Stage 4, guards: the checks that a new call would build the graph that was recorded.

Every decision the tracer heard (a comparison or a ``float()`` of a Value)
becomes one line of the generated code, which raises `Retrace` when the
decision comes out differently. One `GuardEmitter` writes them for both
backends, one method per kind of guard; the backends differ only in how they
name a node's number (a variable, or a row of a group) and in whether it is
a number or an array over the batch. Integer inputs are guarded outside the
code (`GuardEmitter.index_slots`), and so are layer modes and random draws
(`recording.Replayed`). One more kind guards the backward pass: the gradient
reaching a `detach` must be finite (`GuardEmitter.finite`).
"""

from __future__ import annotations

import math
import operator
from typing import Any, Callable, Dict, Iterable, List, Sequence

import numpy as np

from ..engine import Value
from .errors import Retrace
from .recording import Index, Recorder


class GuardEmitter:
    """Writes the guard lines of one program.

    `constant` passes an object to the program and returns the code naming
    it: constants are never written as text, so a numpy scalar, a Fraction,
    ±inf or NaN is compared exactly as eager mode compared it. `batched`:
    the numbers are arrays over a batch, and every sample must agree.
    """

    def __init__(self, constant: Callable[[Any], str], batched: bool) -> None:
        self.constant = constant
        self.batched = batched

    def lines(self, decisions: Iterable[Any], number_of: Callable[[Value], str]) -> List[str]:
        """One guard per recorded decision, in the order they were taken; `number_of` names a node's number."""
        out = []
        for value, other, result, how in decisions:
            left = number_of(value)
            if how == "float":
                out.append(self.float_of(left, result))
            else:
                right = number_of(other) if isinstance(other, Value) else self.constant(_plain(other))
                out.append(self.comparison(left, how, right, result))
        return out

    def comparison(self, left: str, how: str, right: str, result: Any) -> str:
        """``left how right`` (how: < <= > >=) came out `result`."""
        if self.batched:
            return f"if _any_differs(_compare({left}, {how!r}, {right}), {bool(result)}): raise _Retrace"
        return f"if _any_differs(({left} {how} {right}), {bool(result)}): raise _Retrace"

    def float_of(self, left: str, result: float) -> str:
        """``float(left)`` was `result`: the very same float (NaN is NaN; the sign of a zero counts)."""
        return f"if not _same_number({left}, {self.constant(result)}): raise _Retrace"

    def finite(self, gradient: str) -> str:
        """The gradient arriving at a `detach` is finite, so what eager adds through it (0 * g) is a zero.

        Replay leaves those zeros out; 0 * inf is NaN, which eager mode would
        add, so such a call records afresh (and runs eagerly).
        """
        return f"if not _finite({gradient}): raise _Retrace"

    @staticmethod
    def index_slots(recorder: Recorder, indices: Sequence[Index], data_selected: Iterable[int],
                    fixed: Iterable[int] = ()) -> List[int]:
        """The integer inputs that must keep their recorded value.

        All of them, except those used only to pick a `select`'s candidate
        (`data_selected`) whose label does not change eager's order (not in `fixed`).
        """
        return sorted(set(recorder.index_used_as_number) | set(fixed)
                      | (set(range(len(indices))) - set(data_selected)))


RUNTIME: Dict[str, Any] = {}  # what guard lines call, for a program's namespace (filled below)


def _plain(x: Any) -> Any:
    return int(x) if isinstance(x, Index) else x


def any_differs(test: Any, expected: bool) -> bool:
    if isinstance(test, np.ndarray):
        return bool(np.any(test != expected))
    return bool(test) != expected


_COMPARE = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def compare(left: Any, how: str, right: Any) -> Any:
    """``left how right`` for arrays, as eager compares each number: exactly, with ints and Fractions too."""
    if not isinstance(right, (float, np.floating, np.integer, np.ndarray)) and not (
            type(right) is int and abs(right) <= 2 ** 53):
        left = np.asarray(left).astype(object)  # Python floats, compared exactly with any number
    return _COMPARE[how](left, right)


def same_number(x: Any, number: float) -> bool:
    """float(x) is `number` (NaN is NaN; the sign of a zero counts): a float() guard, for a number or an array."""
    negative = math.copysign(1.0, number) < 0
    if isinstance(x, np.ndarray) and x.dtype == object:  # exact numbers (Fractions) over a batch
        return all(same_number(item, number) for item in x.ravel().tolist())
    if isinstance(x, np.ndarray):
        same = ((x == number) & (np.signbit(x) == negative)) | (np.isnan(x) & np.isnan(number))
        return bool(np.all(same))
    f = float(x)
    return (f == number and (math.copysign(1.0, f) < 0) == negative) or (math.isnan(f) and math.isnan(number))


def finite(x: Any) -> bool:
    """No inf or NaN in `x` (a number, or an array over the batch); ints and Fractions are always finite."""
    if isinstance(x, np.ndarray):
        return all(finite(item) for item in x.ravel().tolist()) if x.dtype == object else bool(np.isfinite(x).all())
    return not isinstance(x, float) or math.isfinite(x)


RUNTIME.update(_Retrace=Retrace, _finite=finite, _any_differs=any_differs, _compare=compare, _same_number=same_number)
