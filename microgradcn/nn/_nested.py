"""Helpers for nested lists of Values (images ``[channel][row][col]``, batches of rows)."""

from __future__ import annotations

from collections.abc import Callable
from numbers import Real
from typing import Any

import numpy as np

from .._messages import bilingual
from ..engine import Value

__all__ = ["as_value", "as_values", "flatten", "leaves", "map_nested", "shape"]


def as_value(x: Any) -> Value:
    """`x` itself if it is a Value, else a new leaf Value holding the number `x`."""
    if type(x) is Value or isinstance(x, Value):
        return x
    if isinstance(x, bool) or not isinstance(x, Real):
        raise TypeError(bilingual(f"需要一个数或 Value,得到的是 {type(x).__name__}",
                                  f"expected a number or a Value, got {type(x).__name__}: {x!r}"))
    return Value(float(x))


def as_values(x: Any) -> Any:
    """The same nesting with every number turned into a leaf Value once (numpy arrays become lists).

    Wrapping an input once means every weight that reads a pixel shares one
    leaf, instead of each multiplication lifting its own constant.
    """
    if isinstance(x, np.ndarray):
        x = x.tolist()
    if isinstance(x, (list, tuple)):
        return [as_values(item) for item in x]
    return as_value(x)


def map_nested(f: Callable[[Any], Any], x: Any) -> Any:
    """Apply `f` to every leaf element of a nested list (or to `x` itself if it is not a list)."""
    if isinstance(x, np.ndarray):
        x = x.tolist()
    if isinstance(x, (list, tuple)):
        return [map_nested(f, item) for item in x]
    return f(x)


def flatten(x: Any) -> list[Any]:
    """All leaf elements of a nested list, row-major (the order ``torch.flatten`` uses)."""
    if isinstance(x, np.ndarray):
        x = x.tolist()
    out: list[Any] = []
    stack = [x]
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            stack.extend(reversed(item))
        else:
            out.append(item)
    return out


def leaves(x: Any) -> int:
    """Number of leaf elements of a nested list."""
    return len(flatten(x))


def shape(x: Any) -> tuple[int, ...]:
    """Shape of a regular nested list, e.g. (channels, rows, cols); () for a single element."""
    if isinstance(x, np.ndarray):
        return tuple(x.shape)
    dims = []
    while isinstance(x, (list, tuple)):
        dims.append(len(x))
        if not x:
            break
        x = x[0]
    return tuple(dims)
