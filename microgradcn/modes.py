"""The switches the engine consults: grad mode, anomaly mode, and the tracer that replay listens with.

`no_grad()` and `detect_anomaly()` hold per thread and per asyncio task
(context variables), so one thread's evaluation never switches off another
thread's recording. `blocks_open` counts the blocks open anywhere: while it
is 0, which is almost always, the engine makes a node without looking any
switch up.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import threading
import traceback
import weakref
from typing import Any, Callable, List

from .ops import show_value as _show

__all__ = ["no_grad", "is_grad_enabled", "detect_anomaly", "AnomalyError", "random_numbers", "layer_mode"]

_grad_enabled = contextvars.ContextVar("microgradcn_grad_enabled", default=True)
_anomaly = contextvars.ContextVar("microgradcn_detect_anomaly", default=False)
blocks_open = 0  # no_grad and detect_anomaly blocks open in any thread
_lock = threading.Lock()
_created_at: "weakref.WeakKeyDictionary[Any, str]" = weakref.WeakKeyDictionary()


def is_grad_enabled() -> bool:
    """True unless this thread (or task) is inside `no_grad()`."""
    return _grad_enabled.get()


def anomaly_enabled() -> bool:
    """True inside `detect_anomaly()` in this thread (or task)."""
    return _anomaly.get()


class _Mode:
    """A context manager (and decorator) that sets one per-thread switch, nestably."""

    _var: contextvars.ContextVar = _grad_enabled
    _value = False

    def __init__(self) -> None:
        self._tokens: List[contextvars.Token] = []  # a stack, so one instance may be nested

    def __enter__(self) -> "_Mode":
        global blocks_open
        with _lock:
            blocks_open += 1
        self._tokens.append(self._var.set(self._value))
        return self

    def __exit__(self, *exc_info: object) -> None:
        global blocks_open
        self._var.reset(self._tokens.pop())
        with _lock:
            blocks_open -= 1

    def __call__(self, func: Callable) -> Callable:
        if inspect.isgeneratorfunction(func):
            # The context would end at the first yield, or span the caller's code between yields.
            raise TypeError(f"{type(self).__name__}() cannot decorate the generator function "
                            f"{func.__name__!r}; use a `with` block inside it")

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with type(self)():
                return func(*args, **kwargs)

        return wrapper


class no_grad(_Mode):
    """Operations inside record no graph: results are plain leaves (parameter updates, evaluation).

    ::

        with no_grad():
            y = model(x)
    """


class detect_anomaly(_Mode):
    """Raise `AnomalyError` at the first op whose result or gradient is NaN or ±inf.

    The error names the op, its inputs, and the file and line where the node
    was created. Off by default; while it is off it costs nothing.
    """

    _var = _anomaly
    _value = True


class AnomalyError(ValueError):
    """A NaN or infinity appeared inside `detect_anomaly()`."""


def _bad(x: Any) -> bool:
    return x != x or x in (float("inf"), float("-inf"))


def note_creation(node: Any) -> None:
    """Inside detect_anomaly: remember where `node` was made, and fail if its number is NaN or ±inf."""
    frame = next((f for f in reversed(traceback.extract_stack()[:-2]) if "microgradcn" not in f.filename), None)
    where = f"{frame.filename}, line {frame.lineno}" if frame else "an unknown place"
    _created_at[node] = where
    if _bad(node.data):
        raise AnomalyError(f"{node.op} gave {_show(node.data)} from inputs "
                           f"{', '.join(_show(p) for p in node.parents)}; the node was created at {where}")


def check_gradients(node: Any, parents: tuple) -> None:
    """Inside detect_anomaly: fail if backward through `node` gave a parent a NaN or ±inf gradient."""
    for parent in parents:
        if parent is not None:
            g = parent._g.data if hasattr(parent._g, "data") else parent._g
            if _bad(g):
                where = _created_at.get(node, "an unknown place (created outside detect_anomaly)")
                raise AnomalyError(
                    f"backward of {node.op} (inputs {', '.join(_show(p) for p in node.parents)}) gave the "
                    f"gradient {_show(g)}; the node was created at {where}")


# ------------------------------------------------------------ the tracer
# While replay records a step it sets `tracer`, to hear about decisions taken
# on data (`x > 0`, `float(x)`), integer inputs used as numbers, and random draws.
tracer: Any = None


def decide(value: Any, other: Any, result: Any, how: str) -> Any:
    """`result`, a decision taken on `value`'s data; a tracer is told (it may shape the graph)."""
    if tracer is not None:
        tracer.decision(value, other, result, how)
    return result


def random_numbers(draw: Callable[[], List[float]]) -> List[Any]:
    """The numbers `draw()` returns, as leaf Values: how layers draw randomness (Dropout, RReLU).

    Eager mode just calls `draw`. A replayed step (see `replay`) calls it again
    at every call, in the same order, so it gets new draws from the same
    seeded generator, exactly as eager mode would: never frozen ones.
    """
    if not callable(draw):
        raise TypeError(f"random_numbers() needs a function that draws a list of numbers, got {type(draw).__name__}")
    if tracer is not None:
        return tracer.random_numbers(draw)
    from .engine import Value

    return [Value(x) for x in draw()]


def layer_mode(layer: Any, replayable: bool = True) -> None:
    """Layers that act differently in training and in evaluation (Dropout, BatchNorm) call this.

    A replayed step checks that every such layer is still in the mode it was
    recorded in, and records afresh if not. ``replayable=False`` says that
    the layer has a side effect a replayed step would skip (BatchNorm's
    running statistics in training): such a step is not traced.
    """
    if tracer is not None:
        tracer.layer_mode(layer, layer.training, replayable)
